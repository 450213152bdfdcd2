//! What the window system and the desktop session see of the app: its top-level X windows
//! (mapped or not), a window manager's close request, and a stand-in tray host.

use x11rb::{
    connection::Connection,
    protocol::xproto::{
        AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
    },
    rust_connection::RustConnection,
    CURRENT_TIME,
};

/// The display's top-level windows titled `title` (`_NET_WM_NAME` or `WM_NAME`).
pub fn windows_titled(display: &str, title: &str) -> Vec<Window> {
    let (conn, screen) = x11rb::connect(Some(display)).expect("X display");
    let root = conn.setup().roots[screen].root;
    let utf8 = atom(&conn, "UTF8_STRING");
    let net_name = atom(&conn, "_NET_WM_NAME");
    let children = conn.query_tree(root).unwrap().reply().unwrap().children;
    children
        .into_iter()
        .filter(|w| {
            [
                (net_name, utf8),
                (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
            ]
            .iter()
            .any(|(prop, kind)| {
                conn.get_property(false, *w, *prop, *kind, 0, 256)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|r| r.value == title.as_bytes())
            })
        })
        .collect()
}

/// Whether the window is shown (mapped, with its parents).
pub fn is_viewable(display: &str, window: Window) -> bool {
    let (conn, _) = x11rb::connect(Some(display)).expect("X display");
    conn.get_window_attributes(window)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|a| a.map_state == MapState::VIEWABLE)
}

/// What a window manager sends when its close button is clicked: `WM_DELETE_WINDOW` (ICCCM
/// §4.2.8.1), which the app sees as a close request it may refuse.
pub fn request_close(display: &str, window: Window) {
    let (conn, _) = x11rb::connect(Some(display)).expect("X display");
    let protocols = atom(&conn, "WM_PROTOCOLS");
    let delete = atom(&conn, "WM_DELETE_WINDOW");
    let event = ClientMessageEvent::new(32, window, protocols, [delete, CURRENT_TIME, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, event)
        .unwrap();
    // A round trip: the server has handled the request before this connection closes.
    conn.get_input_focus().unwrap().reply().unwrap();
}

fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .unwrap()
        .reply()
        .unwrap()
        .atom
}

/// A tray host as far as the app can tell: the StatusNotifier watcher's name owned on the
/// desktop's session bus (as KDE, XFCE or GNOME's AppIndicator extension do). Kept while the
/// value lives.
pub struct TrayHost(#[allow(dead_code)] zbus::blocking::Connection);

impl TrayHost {
    pub fn start(dbus_address: &str) -> Self {
        let conn = zbus::blocking::connection::Builder::address(dbus_address)
            .unwrap()
            .name("org.kde.StatusNotifierWatcher")
            .unwrap()
            .build()
            .expect("the tray host's name on the session bus");
        Self(conn)
    }
}
