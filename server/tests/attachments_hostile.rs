//! Attachments against a hostile uploader or a crash: image bombs (memory stays bounded, the
//! files are stored without thumbnails), concurrent requests on one upload session (one at a
//! time; a stored file never changes), and files left behind (removed at start and when a
//! session expires).
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, time::Duration};

use image::{
    codecs::png::{CompressionType, FilterType, PngEncoder},
    DynamicImage, ImageBuffer, Rgba,
};
use parley_testkit::*;
use serde_json::{json, Value};
use sha2::Digest;

/// A PNG of `side`×`side` 16-bit RGBA pixels (8 bytes each), all zero except the first one's
/// red channel (`seed`, so that images can differ). Zeros compress to almost nothing: at 6300
/// pixels a side the file is a few hundred KB and the decoded image 318 MB.
fn png_bomb(side: u32, seed: u16) -> Vec<u8> {
    let mut img: ImageBuffer<Rgba<u16>, Vec<u16>> = ImageBuffer::new(side, side);
    img.put_pixel(0, 0, Rgba([seed, 0, 0, 0]));
    let mut out = Vec::new();
    DynamicImage::ImageRgba16(img)
        .write_with_encoder(PngEncoder::new_with_quality(
            &mut out,
            CompressionType::Best,
            FilterType::NoFilter,
        ))
        .unwrap();
    out
}

/// A small real PNG (a gradient), different for each `seed`.
fn small_png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(400, 300, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(server: &TestServer, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let resp = tokio::time::timeout(
        Duration::from_secs(60),
        server
            .http()
            .post(format!("{}/api/attachments?name={name}", server.url()))
            .bearer_auth(token)
            .body(bytes)
            .send(),
    )
    .await
    .expect("upload timed out")
    .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

/// Uploads every file at once; the answers in order.
async fn upload_all(server: &TestServer, token: &str, files: Vec<Vec<u8>>) -> Vec<(u16, Value)> {
    let names: Vec<String> = (0..files.len()).map(|i| format!("img{i}.png")).collect();
    let uploads = files
        .into_iter()
        .zip(&names)
        .map(|(bytes, name)| upload(server, token, name, bytes));
    futures_util::future::join_all(uploads).await
}

#[tokio::test]
async fn image_bombs_are_stored_without_decoding() {
    // Made before the first request: encoding takes tens of seconds in a debug build, longer than
    // the server keeps an idle connection, and a pooled one it closed meanwhile would be reused.
    let bomb = tokio::task::spawn_blocking(|| png_bomb(6300, 1))
        .await
        .unwrap();
    let server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    assert!(bomb.len() < 1024 * 1024, "bomb is {} bytes", bomb.len());
    let before = server.peak_rss_mib();
    let answers = upload_all(&server, &token, vec![bomb; 8]).await;
    let after = server.peak_rss_mib();
    eprintln!("8 concurrent bomb uploads: peak RSS {before} MiB before, {after} MiB after");
    for (status, attachment) in answers {
        assert_eq!(status, 201, "{attachment}");
        assert_eq!(attachment["mime"], "image/png");
        assert_eq!(
            attachment["width"], 6300,
            "dimensions still come from the header"
        );
        assert_eq!(attachment.get("thumbnail"), None, "{attachment}");
    }
    // Decoding even one would take 318 MB; unbounded, the eight took 2.4 GB.
    assert!(after < 200, "peak RSS {after} MiB");
}

#[tokio::test]
async fn thumbnail_decodes_run_one_at_a_time_when_configured() {
    // 3000×3000 16-bit RGBA is 72 MB decoded: within a budget of 4 × 20M = 80 MB.
    let config = RELAXED.to_owned()
        + "[attachments]\nthumbnail_max_pixels = 20000000\nthumbnail_concurrency = 1\n";
    // Made before the first request (see above).
    let images = tokio::task::spawn_blocking(|| (1..=4).map(|seed| png_bomb(3000, seed)).collect())
        .await
        .unwrap();
    let server = TestServer::start_process(&config).await;
    let token = server.register("alice").await;
    let before = server.peak_rss_mib();
    let answers = upload_all(&server, &token, images).await;
    let after = server.peak_rss_mib();
    eprintln!("4 concurrent 72 MB decodes, one at a time: peak RSS {before} → {after} MiB");
    for (status, attachment) in &answers {
        assert_eq!(*status, 201, "{attachment}");
        assert_eq!(attachment["thumbnail"], true, "{attachment}");
    }
    // One decode at a time holds ~69 MiB; all four at once would hold ~275 MiB.
    assert!(
        after < before + 140,
        "peak RSS {after} MiB, {before} MiB before"
    );
}

#[tokio::test]
async fn stored_content_keeps_its_thumbnail_without_decoding_again() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    let (status, first) = upload(&server, &token, "a.png", small_png(1)).await;
    assert_eq!((status, &first["thumbnail"]), (201, &json!(true)));
    // Now no image is small enough to decode: the same content still gets its thumbnail (it
    // is not decoded again), other content gets none.
    server.set_config(&(RELAXED.to_owned() + "[attachments]\nthumbnail_max_pixels = 100\n"));
    server.restart().await;
    let (status, again) = upload(&server, &token, "b.png", small_png(1)).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["thumbnail"], true, "{again}");
    let (status, other) = upload(&server, &token, "c.png", small_png(2)).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(other.get("thumbnail"), None, "{other}");
    let thumb = server
        .http()
        .get(format!(
            "{}/api/attachments/{}/thumbnail",
            server.url(),
            again["id"]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status().as_u16(), 200);
    let decoded = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
}

fn jpeg(img: DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn jpeg_thumbnails_count_against_the_same_budget() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    let rgb = DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    }));
    let gray = DynamicImage::ImageLuma8(image::GrayImage::from_fn(480, 640, |x, y| {
        image::Luma([((x + y) % 256) as u8])
    }));
    for (name, img, size) in [
        ("rgb.jpg", &rgb, (320, 240)),
        ("gray.jpg", &gray, (240, 320)),
    ] {
        let (status, attachment) = upload(&server, &token, name, jpeg(img.clone())).await;
        assert_eq!(status, 201, "{attachment}");
        assert_eq!(attachment["mime"], "image/jpeg");
        assert_eq!(attachment["thumbnail"], true, "{name}: {attachment}");
        let thumb = server
            .http()
            .get(format!(
                "{}/api/attachments/{}/thumbnail",
                server.url(),
                attachment["id"]
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let decoded = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
        assert_eq!((decoded.width(), decoded.height()), size, "{name}");
    }
    // 640×480 RGB is 921,600 bytes decoded: over a budget of 4 × 200,000.
    server.set_config(&(RELAXED.to_owned() + "[attachments]\nthumbnail_max_pixels = 200000\n"));
    server.restart().await;
    let bigger = DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(y % 256) as u8, (x % 256) as u8, 9])
    }));
    let (status, attachment) = upload(&server, &token, "big.jpg", jpeg(bigger)).await;
    assert_eq!(status, 201, "{attachment}");
    assert_eq!(attachment.get("thumbnail"), None, "{attachment}");
}

/// A chunk whose body the test sends piece by piece: the sender, and the request running.
fn held_put(
    server: &TestServer,
    token: &str,
    id: &str,
    offset: usize,
) -> (
    tokio::sync::mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<reqwest::Response>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, std::io::Error>(bytes), rx))
    });
    let request = server
        .http()
        .put(format!("{}/api/uploads/{id}?offset={offset}", server.url()))
        .bearer_auth(token)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let running = tokio::spawn(async move {
        tokio::time::timeout(TIMEOUT, request)
            .await
            .expect("held PUT timed out")
            .unwrap()
    });
    (tx, running)
}

/// Waits until `path` holds `len` bytes (the server has written what the test sent).
async fn wait_for_len(path: &std::path::Path, len: u64) {
    tokio::time::timeout(TIMEOUT, async {
        while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) != len {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} never held {len} bytes", path.display()));
}

/// Waits until the server holds `len` bytes of session `id`: in its file (sessions in the
/// server's memory) or, for sessions in the database, as its `received` count.
async fn wait_until_held(
    server: &TestServer,
    token: &str,
    (id, path): (&str, &std::path::Path),
    len: u64,
) {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == len {
                return;
            }
            let (_, state) = server.get(&format!("/api/uploads/{id}"), Some(token)).await;
            if state["received"].as_u64() == Some(len) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("upload {id} never held {len} bytes"));
}

async fn put(
    server: &TestServer,
    token: &str,
    id: &str,
    offset: usize,
    bytes: &[u8],
) -> (u16, Value) {
    let resp = server
        .http()
        .put(format!("{}/api/uploads/{id}?offset={offset}", server.url()))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn open_session(server: &TestServer, token: &str, size: usize) -> (String, PathBuf) {
    let (status, session) = server
        .post(
            "/api/uploads",
            Some(token),
            json!({"name": "data.bin", "size": size}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["upload_id"].as_str().unwrap().to_owned();
    let file = server
        .data_dir()
        .join("attachments/incoming")
        .join(format!("session-{id}"));
    (id, file)
}

fn content(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn stored_path(server: &TestServer, sha: &str) -> PathBuf {
    server
        .data_dir()
        .join("attachments")
        .join(&sha[..2])
        .join(sha)
}

#[tokio::test]
async fn one_request_at_a_time_per_upload_session() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let file = content(200_000);
    let (id, session_file) = open_session(&server, &token, file.len()).await;

    let (first, running) = held_put(&server, &token, &id, 0);
    first.send(file[..100_000].to_vec()).await.unwrap();
    wait_until_held(&server, &token, (&id, &session_file), 100_000).await;
    // While that chunk is still arriving, a second one, finish and cancel are refused. The
    // refused chunk's body is not read, so its connection is closed, and the reply says so.
    let refused = server
        .http()
        .put(format!("{}/api/uploads/{id}?offset=0", server.url()))
        .bearer_auth(&token)
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 409);
    assert_eq!(refused.headers()["connection"], "close");
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["code"], "upload_conflict", "{err}");
    let finish = format!("/api/uploads/{id}/finish");
    let (status, err) = server.post(&finish, Some(&token), json!({})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("upload_conflict")),
        "{err}"
    );
    let (status, err) = server
        .delete(&format!("/api/uploads/{id}"), Some(&token))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("upload_conflict")),
        "{err}"
    );
    // Reading how far it is stays allowed.
    let (status, _) = server
        .get(&format!("/api/uploads/{id}"), Some(&token))
        .await;
    assert_eq!(status, 200);

    first.send(file[100_000..].to_vec()).await.unwrap();
    drop(first);
    let done = running.await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["received"], 200_000);
    let (status, attachment) = server.post(&finish, Some(&token), json!({})).await;
    assert_eq!(status, 201, "{attachment}");
    let sha = hex::encode(sha2::Sha256::digest(&file));
    assert_eq!(attachment["sha256"], sha);
    let stored = server
        .http()
        .get(format!(
            "{}/api/attachments/{}",
            server.url(),
            attachment["id"]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(stored.to_vec() == file, "the stored content is the file");
}

#[tokio::test]
async fn a_chunk_racing_finish_cannot_change_a_stored_file() {
    // Reads the stored file itself (SQLite's data directory).
    // The race as it went before sessions took one request at a time: chunk A is still
    // arriving when chunk B (the whole file) completes the session and finish stores it; then
    // A's last bytes arrive. Nothing is asserted until the end, so that both outcomes play out.
    let server = TestServer::builder().config(RELAXED).sqlite().start().await;
    let token = server.register("alice").await;
    let file = content(300_000);
    let (id, session_file) = open_session(&server, &token, file.len()).await;
    let (a, running) = held_put(&server, &token, &id, 0);
    a.send(file[..100_000].to_vec()).await.unwrap();
    wait_for_len(&session_file, 100_000).await;
    let (b_status, b) = put(&server, &token, &id, 0, &file).await;
    let finish = format!("/api/uploads/{id}/finish");
    let (first_finish, first) = server.post(&finish, Some(&token), json!({})).await;
    a.send(file[100_000..].to_vec()).await.unwrap();
    drop(a);
    let a_status = running.await.unwrap().status().as_u16();
    let attachment = if first_finish == 201 {
        first.clone()
    } else {
        let (status, attachment) = server.post(&finish, Some(&token), json!({})).await;
        assert_eq!(status, 201, "{attachment}");
        attachment
    };
    let sha = attachment["sha256"].as_str().unwrap();
    let stored = std::fs::read(stored_path(&server, sha)).unwrap();
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&stored)),
        sha,
        "the stored file changed after it was hashed ({} bytes)",
        stored.len()
    );
    assert!(stored == file, "stored content differs from the file");
    assert_eq!(
        (b_status, b["code"].as_str()),
        (409, Some("upload_conflict")),
        "{b}"
    );
    assert_eq!(first_finish, 409, "{first}");
    assert_eq!(a_status, 200);
    let permissions = std::fs::metadata(stored_path(&server, sha))
        .unwrap()
        .permissions();
    assert!(permissions.readonly(), "stored files are read-only");
}

#[tokio::test]
async fn files_left_behind_are_removed_at_start() {
    // The files store's sweep (SQLite's data directory); tests/attachment_contents.rs has
    // PostgreSQL's.
    let mut server = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .start_process()
        .await;
    let token = server.register("alice").await;
    let (status, photo) = upload(&server, &token, "photo.png", small_png(3)).await;
    assert_eq!((status, &photo["thumbnail"]), (201, &json!(true)));
    let (status, data) = upload(&server, &token, "data.bin", content(5000)).await;
    assert_eq!(status, 201);
    let (_, _session_file) = open_session(&server, &token, 10).await;
    server.stop().await;

    // What a crash leaves: a cut-off upload, a session's bytes, and a file placed whose row
    // never committed. And a file lost from the disk.
    let root = server.data_dir().join("attachments");
    std::fs::write(root.join("incoming/upload-cutoff"), b"partial").unwrap();
    let orphan_sha = hex::encode(sha2::Sha256::digest(b"never recorded"));
    let orphan = stored_path(&server, &orphan_sha);
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"never recorded").unwrap();
    let data_sha = data["sha256"].as_str().unwrap();
    std::fs::remove_file(stored_path(&server, data_sha)).unwrap();
    server.start_again().await;

    assert_eq!(
        std::fs::read_dir(root.join("incoming"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "incoming/ is emptied at start"
    );
    assert!(!orphan.exists(), "an unreferenced file is removed at start");
    let photo_sha = photo["sha256"].as_str().unwrap();
    assert!(
        stored_path(&server, photo_sha).exists(),
        "referenced files stay"
    );
    let get = |id: &Value, suffix: &str| {
        server
            .http()
            .get(format!("{}/api/attachments/{id}{suffix}", server.url()))
            .bearer_auth(&token)
            .send()
    };
    let resp = get(&photo["id"], "").await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        small_png(3).as_slice()
    );
    assert_eq!(
        get(&photo["id"], "/thumbnail")
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // A row whose file is gone is kept, and its download is a clear 404.
    let resp = get(&data["id"], "").await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["code"], "attachment_not_found", "{err}");
}

#[tokio::test]
async fn expired_upload_sessions_lose_their_files() {
    let config = RELAXED.to_owned() + "[attachments]\nupload_expiry = \"1s\"\n";
    // The session's file (sessions in the server's memory); tests/attachment_contents.rs has
    // sessions in PostgreSQL.
    let server = TestServer::builder().config(&config).sqlite().start().await;
    let token = server.register("alice").await;
    let (id, session_file) = open_session(&server, &token, 20).await;
    let (status, _) = put(&server, &token, &id, 0, &[7u8; 10]).await;
    assert_eq!(status, 200);
    assert!(session_file.exists());
    // Nobody touches the session again: the server's own sweep removes it.
    tokio::time::timeout(TIMEOUT, async {
        while session_file.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the expired session's file was not removed");
    let (status, err) = server
        .get(&format!("/api/uploads/{id}"), Some(&token))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("attachment_not_found"))
    );
}
