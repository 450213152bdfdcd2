//! Attachments: upload limits and quota, sniffed types, content-addressed storage, posting with
//! a message, download access, and headers that keep HTML and SVG from running in the app.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

/// A real 640×480 PNG (a gradient).
fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(
    server: &TestServer,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, serde_json::Value) {
    let resp = server
        .http()
        .post(format!("{}/api/attachments?name={name}", server.url()))
        .bearer_auth(token)
        // The client's claim is ignored: the server sniffs the content.
        .header("content-type", "image/png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn attachments_end_to_end() {
    // Files in the data directory (SQLite); tests/attachment_contents.rs has PostgreSQL's.
    let server = TestServer::builder()
        .config(
            &(RELAXED.to_owned() + "[attachments]\nmax_size = \"700KiB\"\nuser_quota = \"1MiB\"\n"),
        )
        .sqlite()
        .start()
        .await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let eve = server.register("eve").await;
    let mut ws = server.connect(Some(&alice)).await;
    ws.ok(json!({"type": "channel_create", "channel": "team", "channel_type": "private"}))
        .await;
    ws.ok(json!({"type": "channel_invite", "channel": "team", "user": "bob"}))
        .await;

    let (status, image) = upload(&server, &alice, "photo.png", png()).await;
    assert_eq!(status, 201, "{image}");
    assert_eq!(image["mime"], "image/png");
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(image["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(image["thumbnail"], true);
    let (_, page) = upload(
        &server,
        &alice,
        "page.html",
        b"<!doctype html><script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(
        page["mime"], "text/html",
        "sniffed, not the client's image/png"
    );
    let (_, svg) = upload(
        &server,
        &alice,
        "x.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec(),
    )
    .await;
    assert_eq!(svg["mime"], "image/svg+xml");

    // Posted with a message; bob (member) downloads, eve (outsider) cannot.
    let ids = json!([image["id"], page["id"], svg["id"]]);
    let sent = ws
        .ok(json!({"type": "send", "channel": "team", "text": "files", "client_id": "f", "attachments": ids}))
        .await;
    assert_eq!(sent["message"]["attachments"].as_array().unwrap().len(), 3);
    let (_, history) = server.get("/api/channels/team/messages", Some(&bob)).await;
    assert_eq!(
        history["messages"][0]["attachments"][0]["name"],
        "photo.png"
    );
    let get = |id: &serde_json::Value, token: &str| {
        server
            .http()
            .get(format!("{}/api/attachments/{id}", server.url()))
            .bearer_auth(token.to_owned())
            .send()
    };
    let resp = get(&image["id"], &bob).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png().as_slice());
    for (doc, name) in [(&page, "page.html"), (&svg, "x.svg")] {
        let resp = get(&doc["id"], &bob).await.unwrap();
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/octet-stream", "{name}");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment"),
            "{name}"
        );
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    assert_eq!(
        get(&image["id"], &eve).await.unwrap().status().as_u16(),
        404
    );
    // The thumbnail: a PNG at most 320 px on its longer side, same access rule.
    let thumbnail = |token: &str| {
        server
            .http()
            .get(format!(
                "{}/api/attachments/{}/thumbnail",
                server.url(),
                image["id"]
            ))
            .bearer_auth(token.to_owned())
            .send()
    };
    let thumb = thumbnail(&bob).await.unwrap();
    assert_eq!(thumb.status().as_u16(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/png");
    let decoded = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    assert_eq!(thumbnail(&eve).await.unwrap().status().as_u16(), 404);
    // Someone else's attachment cannot be posted.
    let mut eve_ws = server.connect(Some(&eve)).await;
    eve_ws
        .ok(json!({"type": "channel_create", "channel": "mine"}))
        .await;
    eve_ws
        .err(
            json!({"type": "send", "channel": "mine", "text": "stolen", "client_id": "s", "attachments": [image["id"]]}),
            "attachment_not_found",
        )
        .await;

    // Limits: size (700 KiB), then quota (1 MiB total).
    let (status, err) = upload(&server, &alice, "big.bin", vec![1u8; 701 * 1024]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("attachment_too_large"))
    );
    let (status, _) = upload(&server, &alice, "a.bin", vec![2u8; 600 * 1024]).await;
    assert_eq!(status, 201);
    let refused = vec![3u8; 500 * 1024];
    let (status, err) = upload(&server, &alice, "b.bin", refused.clone()).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("quota_exceeded"))
    );
    // A refused upload leaves nothing on disk.
    use sha2::Digest;
    let refused_sha = hex::encode(sha2::Sha256::digest(&refused));
    let stray = server
        .data_dir()
        .join("attachments")
        .join(&refused_sha[..2])
        .join(&refused_sha);
    assert!(
        !stray.exists(),
        "refused upload stored at {}",
        stray.display()
    );
    let (status, err) = upload(&server, &alice, "empty", Vec::new()).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("invalid_request"))
    );

    // Identical content is stored once on disk.
    let (status, again) = upload(&server, &bob, "same.png", png()).await;
    assert_eq!(status, 201);
    assert_eq!(again["sha256"], image["sha256"]);
    let sha = image["sha256"].as_str().unwrap();
    let dir = server.data_dir().join("attachments").join(&sha[..2]);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // No half-written files left behind by the refused uploads.
    let incoming = server.data_dir().join("attachments").join("incoming");
    assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
}

#[tokio::test]
async fn uploads_resume_where_they_broke_off() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (status, session) = server
        .post(
            "/api/uploads",
            Some(&token),
            json!({"name": "data.bin", "size": file.len()}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["upload_id"].as_str().unwrap().to_owned();
    let put = |offset: usize, bytes: Vec<u8>| {
        server
            .http()
            .put(format!("{}/api/uploads/{id}?offset={offset}", server.url()))
            .bearer_auth(&token)
            .body(bytes)
            .send()
    };
    let first = put(0, file[..100_000].to_vec()).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    // A client that lost track sends from the wrong place: told where to resume.
    let wrong = put(0, file[..10].to_vec()).await.unwrap();
    assert_eq!(wrong.status().as_u16(), 409);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["received"], 100_000);
    let (_, status_now) = server
        .get(&format!("/api/uploads/{id}"), Some(&token))
        .await;
    assert_eq!(status_now["received"], 100_000);
    // Finishing early is refused; the rest, then finish.
    let (status, _) = server
        .post(
            &format!("/api/uploads/{id}/finish"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 400);
    let rest = put(100_000, file[100_000..].to_vec()).await.unwrap();
    assert_eq!(rest.status().as_u16(), 200);
    let (status, attachment) = server
        .post(
            &format!("/api/uploads/{id}/finish"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{attachment}");
    use sha2::Digest;
    assert_eq!(
        attachment["sha256"],
        hex::encode(sha2::Sha256::digest(&file))
    );
    assert_eq!(attachment["size"], 300_000);
    // The session is gone; another user cannot touch someone's session; cancel removes it.
    assert_eq!(
        server
            .get(&format!("/api/uploads/{id}"), Some(&token))
            .await
            .0,
        404
    );
    let (_, other) = server
        .post(
            "/api/uploads",
            Some(&token),
            json!({"name": "x", "size": 10}),
        )
        .await;
    let other_id = other["upload_id"].as_str().unwrap().to_owned();
    let bob = server.register("bob").await;
    assert_eq!(
        server
            .get(&format!("/api/uploads/{other_id}"), Some(&bob))
            .await
            .0,
        404
    );
    assert_eq!(
        server
            .delete(&format!("/api/uploads/{other_id}"), Some(&token))
            .await
            .0,
        204
    );
    let (status, err) = server
        .post(
            "/api/uploads",
            Some(&token),
            json!({"name": "huge", "size": 1u64 << 40}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("attachment_too_large"))
    );
    // At most 8 unfinished uploads per user.
    for _ in 0..8 {
        let (status, _) = server
            .post(
                "/api/uploads",
                Some(&token),
                json!({"name": "x", "size": 10}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, err) = server
        .post(
            "/api/uploads",
            Some(&token),
            json!({"name": "x", "size": 10}),
        )
        .await;
    assert_eq!((status, err["code"].as_str()), (429, Some("rate_limited")));
    // At most 10 attachments on one message.
    let mut ws = server.connect(Some(&token)).await;
    ws.ok(json!({"type": "channel_create", "channel": "files"}))
        .await;
    ws.err(
        json!({"type": "send", "channel": "files", "text": "many", "client_id": "m",
               "attachments": (1..=11).collect::<Vec<i64>>()}),
        "invalid_request",
    )
    .await;
}
