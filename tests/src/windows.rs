//! What the window system and the desktop session see of the app: its top-level X windows
//! (mapped or not), a window manager's close request, and a stand-in tray host.

use std::time::{Duration, Instant};

use x11rb::{
    connection::Connection,
    protocol::{
        xproto::{
            AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, MapState,
            PropMode, SelectionNotifyEvent, Window, WindowClass,
        },
        Event,
    },
    rust_connection::RustConnection,
    COPY_DEPTH_FROM_PARENT, CURRENT_TIME,
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

/// Drops `files` on `window` at (`x`, `y`) in its coordinates, as a file manager does: the
/// XDND protocol (version 5) from a window of this connection, the files offered as
/// `text/uri-list`. Returns once the app said it finished (`XdndFinished`); panics if a step
/// gets no answer within the timeout.
pub fn drop_files(display: &str, window: Window, x: i16, y: i16, files: &[std::path::PathBuf]) {
    let (conn, screen) = x11rb::connect(Some(display)).expect("X display");
    let root = conn.setup().roots[screen].root;
    let a = |name: &str| atom(&conn, name);
    let (aware, enter, position, status, drop, finished, leave) = (
        a("XdndAware"),
        a("XdndEnter"),
        a("XdndPosition"),
        a("XdndStatus"),
        a("XdndDrop"),
        a("XdndFinished"),
        a("XdndLeave"),
    );
    let (selection, copy, uri_list) = (a("XdndSelection"), a("XdndActionCopy"), a("text/uri-list"));
    let version = conn
        .get_property(false, window, aware, AtomEnum::ATOM, 0, 1)
        .unwrap()
        .reply()
        .unwrap()
        .value32()
        .and_then(|mut v| v.next())
        .expect("the window takes drops (XdndAware)")
        .min(5);
    let source = conn.generate_id().unwrap();
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        source,
        root,
        -10,
        -10,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )
    .unwrap();
    conn.set_selection_owner(source, selection, CURRENT_TIME)
        .unwrap();
    let root_at = conn
        .translate_coordinates(window, root, x, y)
        .unwrap()
        .reply()
        .unwrap();
    let point = (u32::from(root_at.dst_x as u16) << 16) | u32::from(root_at.dst_y as u16);
    let send = |kind: u32, data: [u32; 5]| {
        let event = ClientMessageEvent::new(32, window, kind, data);
        conn.send_event(false, window, EventMask::NO_EVENT, event)
            .unwrap();
        conn.flush().unwrap();
    };
    send(enter, [source, version << 24, uri_list, 0, 0]);
    send(position, [source, 0, point, CURRENT_TIME, copy]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = |what: &str| loop {
        if let Some(event) = conn.poll_for_event().unwrap() {
            return event;
        }
        if Instant::now() > deadline {
            send(leave, [source, 0, 0, 0, 0]);
            panic!("no {what} from the app");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let list: String = files
        .iter()
        .map(|f| format!("file://{}\r\n", uri_path(f)))
        .collect();
    // The app asks for the data (WebKit already while the pointer moves over it) and answers
    // the position: it takes the drop (bit 0).
    let serve = |event: &Event| {
        if let Event::SelectionRequest(r) = event {
            if r.selection == selection {
                let property = if r.target == uri_list {
                    conn.change_property(
                        PropMode::REPLACE,
                        r.requestor,
                        r.property,
                        uri_list,
                        8,
                        list.len() as u32,
                        list.as_bytes(),
                    )
                    .unwrap();
                    r.property
                } else {
                    x11rb::NONE
                };
                let notify = SelectionNotifyEvent {
                    response_type: x11rb::protocol::xproto::SELECTION_NOTIFY_EVENT,
                    sequence: 0,
                    time: r.time,
                    requestor: r.requestor,
                    selection: r.selection,
                    target: r.target,
                    property,
                };
                conn.send_event(false, r.requestor, EventMask::NO_EVENT, notify)
                    .unwrap();
                conn.flush().unwrap();
            }
        }
    };
    loop {
        match next("XdndStatus") {
            Event::ClientMessage(m) if m.type_ == status => {
                assert_eq!(m.data.as_data32()[1] & 1, 1, "the app refused the drop");
                break;
            }
            event => serve(&event),
        }
    }
    send(drop, [source, 0, CURRENT_TIME, 0, 0]);
    // ... and says when it is done with it.
    loop {
        match next("XdndFinished") {
            Event::ClientMessage(m) if m.type_ == finished => break,
            event => serve(&event),
        }
    }
}

/// A path as a `file://` URI's path: percent-encoded but for unreserved characters and `/`.
fn uri_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                (*b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .unwrap()
        .reply()
        .unwrap()
        .atom
}
