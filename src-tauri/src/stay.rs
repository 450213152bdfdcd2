//! Staying running next to the other apps of the day: closing the window hides it when a tray
//! shows Parley (the tray's "Open Parley", a left click on the icon, or launching Parley again
//! bring it back; "Quit Parley" quits), and starting at login with an XDG autostart entry
//! (`$XDG_CONFIG_HOME/autostart/parley.desktop`), which starts Parley hidden in the tray.

use std::path::{Path, PathBuf};

use crate::types::AppError;

/// The command-line switch of an autostarted Parley: start without showing the window (when
/// a tray can bring it back).
pub const HIDDEN_ARG: &str = "--hidden";

/// Whether the desktop shows tray icons: a StatusNotifier host is registered on the session
/// bus (KDE, XFCE, GNOME with the AppIndicator extension...). Without one, a hidden window
/// could only come back by launching Parley again, so closing it quits.
#[cfg(target_os = "linux")]
pub fn tray_host_present() -> bool {
    let check = || -> zbus::Result<bool> {
        let bus = zbus::blocking::Connection::session()?;
        let proxy = zbus::blocking::fdo::DBusProxy::new(&bus)?;
        let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
        Ok(proxy.name_has_owner(name)?)
    };
    match check() {
        Ok(present) => present,
        Err(err) => {
            tracing::info!(%err, "cannot ask the session bus for a tray host");
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn tray_host_present() -> bool {
    true
}

/// `$XDG_CONFIG_HOME/autostart/parley.desktop` (`~/.config` when the variable is unset or not
/// absolute, as the XDG base directory specification says).
pub fn autostart_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".config"))
        })?;
    Some(config.join("autostart").join("parley.desktop"))
}

/// The autostart entry for the program at `exe`.
pub fn desktop_entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Parley\nComment=Chat and documents of your \
         workspace\nExec={} {HIDDEN_ARG}\nIcon=parley-app\nTerminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        exec_quote(&exe.to_string_lossy())
    )
}

/// One argument of an `Exec` key (Desktop Entry Specification, "The Exec key"): quoted, with
/// `"`, `` ` ``, `$` and `\` escaped, and `%` doubled (field codes are not ours).
fn exec_quote(arg: &str) -> String {
    let mut out = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                // Escaped once for the quoting and once for the string value of the key.
                out.push_str("\\\\");
                out.push(c);
            }
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes (or removes) the autostart entry of the running program.
pub fn set_autostart(enabled: bool) -> Result<(), AppError> {
    let file = autostart_file()
        .ok_or_else(|| AppError::new("storage", "no configuration directory (HOME is unset)"))?;
    if !enabled {
        return match std::fs::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(AppError::new("storage", err.to_string())),
        };
    }
    let exe = std::env::current_exe().map_err(AppError::internal)?;
    let storage = |e: std::io::Error| AppError::new("storage", e.to_string());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(storage)?;
    }
    std::fs::write(&file, desktop_entry(&exe)).map_err(storage)
}

/// Whether the autostart entry is there (someone may have removed it by hand).
pub fn autostart_enabled() -> bool {
    autostart_file().is_some_and(|f| f.is_file())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_this_program_hidden_with_its_path_quoted() {
        let entry = desktop_entry(Path::new("/opt/My Apps/par$ley%1"));
        assert!(entry.starts_with("[Desktop Entry]\n"));
        assert!(entry.contains("\nType=Application\n"));
        assert!(
            entry.contains("\nExec=\"/opt/My Apps/par\\\\$ley%%1\" --hidden\n"),
            "{entry}"
        );
    }
}
