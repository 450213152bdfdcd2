//! Fuzzes the decoding of client frames: any text must decode to a request or a classified
//! error, never panic; and a decoded request must survive a serialize/decode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The server only decodes text frames, which tungstenite has already checked are UTF-8.
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parley_protocol::decode_request(text) {
        Ok(request) => {
            let again = serde_json::to_string(&request).expect("a decoded request serializes");
            let back = parley_protocol::decode_request(&again).expect("and decodes again");
            assert_eq!(back, request);
        }
        Err(error) => {
            assert!(!error.message.is_empty());
        }
    }
});
