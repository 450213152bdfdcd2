//! Attachment contents in PostgreSQL (`storage.backend = "postgres"` without
//! `attachments.dir`, docs/scaling.md): stored once per content in chunks, served back whole,
//! thumbnails included; content no attachment names is swept at start once it is old, never
//! while it may belong to an upload under way; content gone from the database answers 404.
#![allow(clippy::unwrap_used)]

use parley_testkit::{postgres::Postgres, *};
use serde_json::Value;

fn png() -> Vec<u8> {
    let img = image_rgb(64, 48);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn image_rgb(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]))
}

async fn upload(server: &TestServer, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let resp = server
        .http()
        .post(format!("{}/api/attachments?name={name}", server.url()))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    resp.json().await.unwrap()
}

async fn download(server: &TestServer, token: &str, path: &str) -> (u16, Vec<u8>) {
    let resp = server
        .http()
        .get(format!("{}/api/attachments/{path}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn contents_live_in_postgres_once_each_and_old_orphans_are_swept() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let mut server = TestServer::builder()
        .config(RELAXED)
        .postgres(&pg.url())
        .start_process()
        .await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let count = |sql: &str| pg.psql("postgres", sql).trim().parse::<u64>().unwrap();

    // An image with its thumbnail; the same image again by someone else: stored once.
    let image = upload(&server, &alice, "photo.png", png()).await;
    let again = upload(&server, &bob, "same.png", png()).await;
    assert_eq!(image["sha256"], again["sha256"]);
    let sha = image["sha256"].as_str().unwrap();
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM contents WHERE sha256 = '{sha}'"
        )),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM contents"),
        2,
        "the image and its thumbnail"
    );
    let (status, bytes) = download(&server, &alice, &image["id"].to_string()).await;
    assert_eq!((status, bytes == png()), (200, true));
    let (status, thumb) = download(&server, &alice, &format!("{}/thumbnail", image["id"])).await;
    assert_eq!(status, 200);
    assert!(thumb.starts_with(b"\x89PNG"));

    // Larger than a chunk (1 MiB): split and served back whole, in order.
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    let data = upload(&server, &alice, "data.bin", big.clone()).await;
    let data_sha = data["sha256"].as_str().unwrap().to_owned();
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM content_chunks WHERE sha256 = '{data_sha}'"
        )),
        3
    );
    let (status, bytes) = download(&server, &alice, &data["id"].to_string()).await;
    assert_eq!(status, 200);
    assert!(bytes == big, "{} bytes back", bytes.len());

    // What a crash leaves: content whose row never committed, old and young. At start the old
    // one goes; the young one may be another node's upload under way, and stays.
    pg.psql(
        "postgres",
        "INSERT INTO contents (sha256, size, created_at) VALUES ('old-orphan', 1, 0), \
         ('young-orphan', 1, (extract(epoch from now()) * 1000)::bigint)",
    );
    server.stop().await;
    server.start_again().await;
    let left = pg.psql(
        "postgres",
        "SELECT sha256 FROM contents WHERE sha256 LIKE '%orphan' ORDER BY 1",
    );
    assert_eq!(left.trim(), "young-orphan");
    assert_eq!(
        count("SELECT count(*) FROM contents"),
        4,
        "the named ones stay"
    );

    // Content gone from the database: 404, like an unknown attachment.
    pg.psql(
        "postgres",
        &format!("DELETE FROM contents WHERE sha256 = '{data_sha}'"),
    );
    let (status, body) = download(&server, &alice, &data["id"].to_string()).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("attachment_not_found"))
    );
}

#[tokio::test]
async fn expired_upload_sessions_lose_their_bytes() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let server = TestServer::builder()
        .config(&(RELAXED.to_owned() + "[attachments]\nupload_expiry = \"1s\"\n"))
        .postgres(&pg.url())
        .start()
        .await;
    let token = server.register("alice").await;
    let (status, opened) = server
        .post(
            "/api/uploads",
            Some(&token),
            serde_json::json!({"name": "a.bin", "size": 20}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["upload_id"].as_str().unwrap();
    let put = server
        .http()
        .put(format!("{}/api/uploads/{id}?offset=0", server.url()))
        .bearer_auth(&token)
        .body(vec![7u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM upload_parts")
            .trim(),
        "1"
    );
    // Nobody touches the session again: the server's own sweep removes it and its bytes.
    tokio::time::timeout(TIMEOUT, async {
        while pg
            .psql("postgres", "SELECT count(*) FROM upload_sessions")
            .trim()
            != "0"
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the expired session is swept");
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM upload_parts")
            .trim(),
        "0"
    );
    let (status, _) = server
        .get(&format!("/api/uploads/{id}"), Some(&token))
        .await;
    assert_eq!(status, 404);
}
