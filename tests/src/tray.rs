//! A tray host on the test desktop's session bus: the StatusNotifierWatcher service that KDE,
//! XFCE or GNOME's AppIndicator extension run. The app's tray icon (libayatana-appindicator)
//! registers with it, and the test reads and clicks the icon's menu over
//! `com.canonical.dbusmenu`, as a panel does when a person picks an item.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use zbus::{
    blocking::{Connection, Proxy},
    zvariant::{OwnedObjectPath, OwnedValue, Value},
};

use crate::TIMEOUT;

/// The watcher's side of the protocol: items register, hosts are said to be there.
#[derive(Clone, Default)]
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// libayatana passes its object path (the sender is the bus name); other libraries pass
    /// a bus name, with the item at `/StatusNotifierItem`.
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let item = if service.starts_with('/') {
            format!("{sender}{service}")
        } else {
            format!("{service}/StatusNotifierItem")
        };
        self.items.lock().unwrap().push(item);
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A tray host as far as the app can tell. Kept while the value lives.
pub struct TrayHost {
    conn: Connection,
    items: Arc<Mutex<Vec<String>>>,
}

/// A dbusmenu layout node: `(ia{sv}av)`, an id, its properties and its children.
type Layout = (
    i32,
    std::collections::HashMap<String, OwnedValue>,
    Vec<OwnedValue>,
);

/// One entry of a tray menu: its dbusmenu id and label (mnemonic underscores removed).
#[derive(Debug, Clone)]
pub struct TrayMenuItem {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    /// For a check item: whether it is checked.
    pub checked: Option<bool>,
}

impl TrayHost {
    pub fn start(dbus_address: &str) -> Self {
        let watcher = Watcher::default();
        let items = Arc::clone(&watcher.items);
        let conn = zbus::blocking::connection::Builder::address(dbus_address)
            .unwrap()
            .name("org.kde.StatusNotifierWatcher")
            .unwrap()
            .serve_at("/StatusNotifierWatcher", watcher)
            .unwrap()
            .build()
            .expect("the tray host's name on the session bus");
        Self { conn, items }
    }

    /// The first registered icon (bus name, object path), waiting for it.
    async fn item(&self) -> (String, String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(item) = self.items.lock().unwrap().first().cloned() {
                let slash = item.find('/').expect("an object path");
                return (item[..slash].to_owned(), item[slash..].to_owned());
            }
            assert!(Instant::now() < deadline, "no tray icon registered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The icon's menu, as a `com.canonical.dbusmenu` proxy.
    async fn menu_proxy(&self) -> Proxy<'static> {
        let (service, path) = self.item().await;
        let item = Proxy::new_owned(
            self.conn.clone(),
            service.clone(),
            path,
            "org.kde.StatusNotifierItem",
        )
        .unwrap();
        let menu: OwnedObjectPath = item.get_property("Menu").expect("the icon's Menu");
        Proxy::new_owned(
            self.conn.clone(),
            service,
            menu.to_string(),
            "com.canonical.dbusmenu",
        )
        .unwrap()
    }

    /// The menu's top-level items (separators left out), as a panel shows them.
    pub async fn menu(&self) -> Vec<TrayMenuItem> {
        let proxy = self.menu_proxy().await;
        let (_revision, (_root, _props, children)): (u32, Layout) = proxy
            .call("GetLayout", &(0i32, 1i32, Vec::<String>::new()))
            .expect("the menu's layout");
        children
            .into_iter()
            .filter_map(|child| menu_item(&child))
            .collect()
    }

    /// Clicks the item labelled `label`, as a panel does (`Event(id, "clicked")`).
    pub async fn click(&self, label: &str) {
        let items = self.menu().await;
        let item = items
            .iter()
            .find(|i| i.label == label)
            .unwrap_or_else(|| panic!("no tray menu item {label:?} in {items:?}"));
        let proxy = self.menu_proxy().await;
        let _: () = proxy
            .call("Event", &(item.id, "clicked", Value::from(0i32), 0u32))
            .expect("the click is delivered");
    }
}

/// One `(ia{sv}av)` layout entry, or None for a separator or something unreadable.
fn menu_item(child: &OwnedValue) -> Option<TrayMenuItem> {
    let mut value: &Value<'_> = child;
    while let Value::Value(inner) = value {
        value = inner;
    }
    let Value::Structure(fields) = value else {
        return None;
    };
    let fields = fields.fields();
    let (Some(Value::I32(id)), Some(Value::Dict(props))) = (fields.first(), fields.get(1)) else {
        return None;
    };
    let text = |key: &str| -> Option<String> { props.get::<&str, String>(&key).ok().flatten() };
    if text("type").as_deref() == Some("separator") {
        return None;
    }
    let label = text("label")?.replace('_', "");
    let enabled = props
        .get::<&str, bool>(&"enabled")
        .ok()
        .flatten()
        .unwrap_or(true);
    let checked = match text("toggle-type").as_deref() {
        Some("checkmark" | "radio") => Some(
            props
                .get::<&str, i32>(&"toggle-state")
                .ok()
                .flatten()
                .unwrap_or(0)
                == 1,
        ),
        _ => None,
    };
    Some(TrayMenuItem {
        id: *id,
        label,
        enabled,
        checked,
    })
}
