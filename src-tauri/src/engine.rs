//! How the app sets up its web engine (WebKitGTK on Linux) to use less memory: a chat UI
//! needs neither JavaScriptCore's top compiler tiers nor accelerated compositing on a
//! computer without a GPU.
//! Measured by `make measure-app` (docs/benchmarks.md, "Desktop app").

/// JavaScriptCore settings the web process reads from its environment at start, each left
/// as it is when already set (to compare, or to turn a tier back on):
/// - `JSC_useDFGJIT=false`: no DFG (and so no FTL) optimizing compiler. The UI's scripts
///   are short event handlers; the interpreter and the baseline JIT run them, and the DFG's
///   code and compiler state cost ~14 MiB after a day's scrolling with no gain in start time.
/// - `JSC_forceMiniVMMode=true`: the engine's memory-saving mode (a heap that grows by 1.27×
///   instead of 2× between collections, smaller caches): ~5 MiB.
pub const JAVASCRIPT_ENGINE_ENV: [(&str, &str); 2] =
    [("JSC_useDFGJIT", "false"), ("JSC_forceMiniVMMode", "true")];

/// Called first thing in `main`, before any thread exists: it sets environment variables
/// the web process inherits.
pub fn configure_before_start() {
    for (var, value) in JAVASCRIPT_ENGINE_ENV {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, value);
        }
    }
    prefer_cpu_rendering_without_gpu();
}

/// Without a GPU (no DRM render node: a virtual machine, a remote or headless desktop) WebKit's
/// accelerated compositing runs on software OpenGL, which is slower than its CPU path and
/// costs about 60 MB more; there the app turns it off. An explicit
/// `WEBKIT_DISABLE_COMPOSITING_MODE` is left as it is.
fn prefer_cpu_rendering_without_gpu() {
    #[cfg(target_os = "linux")]
    {
        const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
        if std::env::var_os(VAR).is_some() {
            return;
        }
        let gpu = std::fs::read_dir("/dev/dri")
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            })
            .unwrap_or(false);
        if !gpu {
            std::env::set_var(VAR, "1");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // nextest runs each test in its own process, so setting the environment here is safe.
    #[test]
    fn the_engine_settings_are_set_and_an_explicit_choice_is_kept() {
        std::env::set_var("JSC_useDFGJIT", "true");
        std::env::remove_var("JSC_forceMiniVMMode");
        configure_before_start();
        assert_eq!(std::env::var("JSC_useDFGJIT").as_deref(), Ok("true"));
        assert_eq!(std::env::var("JSC_forceMiniVMMode").as_deref(), Ok("true"));
    }
}
