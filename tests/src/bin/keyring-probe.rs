//! Prints the secret stored in the OS keyring under `parley` / `<account>` (exit 0), or says
//! there is none (exit 3). The end-to-end tests run it inside the app's D-Bus session to see
//! where the app put its token.

fn main() {
    let Some(account) = std::env::args().nth(1) else {
        eprintln!("usage: keyring-probe <account>");
        std::process::exit(2);
    };
    let entry = match keyring::Entry::new("parley", &account) {
        Ok(entry) => entry,
        Err(err) => {
            eprintln!("keyring: {err}");
            std::process::exit(1);
        }
    };
    match entry.get_password() {
        Ok(secret) => println!("{secret}"),
        Err(keyring::Error::NoEntry) => {
            println!("none");
            std::process::exit(3);
        }
        Err(err) => {
            eprintln!("keyring: {err}");
            std::process::exit(1);
        }
    }
}
