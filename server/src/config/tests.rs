//! The configuration's defaults, overrides and checks.

use super::*;

#[test]
fn defaults_without_file() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert_eq!(c.websocket.max_frame_size, 65536);
    assert!(c.realtime.enabled);
}

#[test]
fn modelled_keys_and_env_override() {
    let text = r#"
        [realtime]
        enabled = true
        max_connections = 100
        channel_limit = 5
        message_retention = "7d"
        presence_timeout = "30s"
        [websocket]
        ping_interval = "20s"
        pong_timeout = "10s"
        max_frame_size = "64kb"
        [channels."chat-room"]
        type = "presence"
        authentication = "optional"
        presence = true
        message_history = 100
        user_specific = false
        auto_subscribe = true
        max_participants = 50
    "#;
    let env = [
        (
            "PARLEY_REALTIME_MAX_CONNECTIONS".to_string(),
            "7".to_string(),
        ),
        (
            "PARLEY_ACCOUNTS_REGISTRATION".to_string(),
            "closed".to_string(),
        ),
        (
            "PARLEY_WEBSOCKET_MAX_FRAME_SIZE".to_string(),
            "1mb".to_string(),
        ),
        ("UNRELATED".to_string(), "x".to_string()),
        (
            "PARLEY_SERVER_URL".to_string(),
            "http://elsewhere".to_string(),
        ),
    ];
    let c = Config::from_toml_and_env(text, env).expect("parses");
    assert_eq!(c.ignored_env, ["PARLEY_SERVER_URL"]);
    assert_eq!(c.realtime.max_connections, 7);
    assert_eq!(c.accounts.registration, Registration::Closed);
    assert_eq!(c.websocket.max_frame_size, 1024 * 1024);
    assert_eq!(c.realtime.message_retention, Duration::from_secs(7 * 86400));
    let room = &c.channels["chat-room"];
    assert_eq!(room.kind, ChannelType::Presence);
    assert_eq!(room.max_participants, Some(50));
}

#[test]
fn limits_section_and_its_env_overrides() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert_eq!(c.limits.channels_per_user, 100);
    assert_eq!(c.limits.version_bytes_per_user, 1024 * 1024 * 1024);
    let env = [
        (
            "PARLEY_LIMITS_DOCUMENTS_PER_USER".to_string(),
            "7".to_string(),
        ),
        (
            "PARLEY_LIMITS_VERSION_BYTES_PER_USER".to_string(),
            "10mb".to_string(),
        ),
        (
            "PARLEY_DOCUMENTS_MAX_AWARENESS_STATE".to_string(),
            "1kb".to_string(),
        ),
        (
            "PARLEY_REALTIME_SEARCH_TIMEOUT".to_string(),
            "500ms".to_string(),
        ),
    ];
    let c = Config::from_toml_and_env("[limits]\ndms_per_user = 3\n", env).expect("parses");
    assert_eq!(c.limits.documents_per_user, 7);
    assert_eq!(c.limits.dms_per_user, 3);
    assert_eq!(c.limits.version_bytes_per_user, 10 * 1024 * 1024);
    assert_eq!(c.documents.max_awareness_state, 1024);
    assert_eq!(c.realtime.search_timeout, Duration::from_millis(500));
    assert!(c.ignored_env.is_empty());
    assert!(Config::from_toml_and_env("[limits]\nbogus = 1", []).is_err());
    assert!(Config::from_toml_and_env("[realtime]\nmax_concurrent_searches = 0", []).is_err());
}

#[test]
fn bad_values_are_clear_errors() {
    let err = Config::from_toml_and_env("[websocket]\nmax_frame_size = \"64 parsecs\"", [])
        .expect_err("bad size");
    assert!(err.to_string().contains("max_frame_size") || err.to_string().contains("size"));
    assert!(Config::from_toml_and_env("[realtime]\nbogus = 1", []).is_err());
    let env = [(
        "PARLEY_REALTIME_MAX_CONNECTIONS".to_string(),
        "many".to_string(),
    )];
    assert!(
        Config::from_toml_and_env("", env).is_err(),
        "a known key with a bad value"
    );
    assert!(Config::from_toml_and_env("[channels.\"bad name!\"]", []).is_err());
}

#[test]
fn attachment_limits_are_checked_and_overridable() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert_eq!(c.attachments.thumbnail_max_pixels, 40_000_000);
    assert_eq!(c.attachments.thumbnail_concurrency, 2);
    assert_eq!(c.attachments.upload_expiry, Duration::from_secs(86_400));
    for bad in [
        "[attachments]\nthumbnail_concurrency = 0",
        "[attachments]\nupload_expiry = \"0\"",
    ] {
        assert!(Config::from_toml_and_env(bad, []).is_err(), "{bad}");
    }
    let env = [
        (
            "PARLEY_ATTACHMENTS_UPLOAD_EXPIRY".to_string(),
            "2h".to_string(),
        ),
        (
            "PARLEY_ATTACHMENTS_THUMBNAIL_MAX_PIXELS".to_string(),
            "1000".to_string(),
        ),
    ];
    let c = Config::from_toml_and_env("", env).expect("parses");
    assert_eq!(c.attachments.upload_expiry, Duration::from_secs(7200));
    assert_eq!(c.attachments.thumbnail_max_pixels, 1000);
    assert!(c.ignored_env.is_empty());
}

#[test]
fn hardening_keys_from_file_and_env() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert!(c.server.allowed_hosts.is_empty());
    assert_eq!(c.realtime.max_connections_per_address, 256);
    assert!(c.accounts.hash_workers() >= 1);
    let env = [
        (
            "PARLEY_SERVER_ALLOWED_HOSTS".to_string(),
            r#"["127.0.0.1","localhost"]"#.to_string(),
        ),
        ("PARLEY_ACCOUNTS_HASH_QUEUE".to_string(), "3".to_string()),
        (
            "PARLEY_SERVER_HEADER_READ_TIMEOUT".to_string(),
            "5s".to_string(),
        ),
    ];
    let c = Config::from_toml_and_env("[accounts]\nhash_concurrency = 2", env).expect("parses");
    assert_eq!(c.server.allowed_hosts, ["127.0.0.1", "localhost"]);
    assert_eq!((c.accounts.hash_workers(), c.accounts.hash_queue), (2, 3));
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(5));
    assert!(c.ignored_env.is_empty());
    for bad in [
        "[server]\nallowed_hosts = [\"not a host\"]",
        "[server]\nbody_read_timeout = 0",
        "[realtime]\nmax_connections_per_address = 0",
    ] {
        assert!(Config::from_toml_and_env(bad, []).is_err(), "{bad}");
    }
}

/// docs/parley.example.toml is a config a person copies: it must load as it is.
#[test]
fn the_example_config_loads() {
    let text = include_str!("../../../docs/parley.example.toml");
    let config = Config::from_toml_and_env(text, Vec::<(String, String)>::new())
        .unwrap_or_else(|e| panic!("docs/parley.example.toml: {e}"));
    assert_eq!(config.workspace.first_channel(), Some("general"));
}

#[test]
fn the_first_channel_can_be_turned_off_and_is_checked() {
    let off = Config::from_toml_and_env(
        "",
        [("PARLEY_WORKSPACE_FIRST_CHANNEL".to_owned(), String::new())],
    )
    .expect("an empty first channel");
    assert_eq!(off.workspace.first_channel(), None);
    let bad = Config::from_toml_and_env("[workspace]\nfirst_channel = \"Team Room\"\n", Vec::new())
        .expect_err("not a channel name")
        .to_string();
    assert!(bad.contains("workspace.first_channel"), "{bad}");
}

#[test]
fn metrics_section_and_its_token() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert!(c.metrics.enabled);
    assert_eq!(c.metrics.token, None);
    let text = "[metrics]\nenabled = false\ntoken = \"s3cret\"\n";
    let c = Config::from_toml_and_env(text, []).expect("parses");
    assert!(!c.metrics.enabled);
    assert_eq!(c.metrics.token.as_deref(), Some("s3cret"));
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the token stays out of debug output"
    );
    // A token that reads as a TOML number stays the text it was.
    for token in ["12345678901234567890", "1e5", "true"] {
        let env = [("PARLEY_METRICS_TOKEN".to_string(), token.to_string())];
        let c = Config::from_toml_and_env("", env).expect("a token from the environment");
        assert_eq!(c.metrics.token.as_deref(), Some(token));
    }
    let env = [("PARLEY_METRICS_ENABLED".to_string(), "false".to_string())];
    assert!(
        !Config::from_toml_and_env("", env)
            .expect("parses")
            .metrics
            .enabled
    );
    let err = Config::from_toml_and_env("[metrics]\ntoken = \" \"\n", []).expect_err("empty");
    assert!(err.to_string().contains("metrics.token"), "{err}");
}

#[test]
fn registration_modes_and_the_removed_server_key() {
    let c = Config::from_toml_and_env("", []).expect("defaults");
    assert_eq!(c.accounts.registration, Registration::Invite);
    assert!(!c.accounts.members_can_invite);
    assert_eq!(c.accounts.max_invite_uses, 100);
    assert_eq!(
        c.accounts.max_invite_expiry,
        Duration::from_secs(30 * 86400)
    );
    assert_eq!(c.accounts.max_live_invites_per_user, 100);
    assert_eq!(c.accounts.reset_code_expiry, Duration::from_secs(86400));
    assert_eq!(c.accounts.max_avatar_size, 2 * 1024 * 1024);
    let open =
        Config::from_toml_and_env("[accounts]\nregistration = \"open\"\n", []).expect("open");
    assert_eq!(open.accounts.registration, Registration::Open);
    let bad = Config::from_toml_and_env("[accounts]\nregistration = \"maybe\"\n", []);
    assert!(bad.is_err());
    for text in [
        "[server]\nregistration = false\n",
        "[server]\nregistration = true\n",
    ] {
        let err = Config::from_toml_and_env(text, [])
            .expect_err("removed key")
            .to_string();
        assert!(err.contains("accounts.registration"), "{err}");
    }
    let env = [(
        "PARLEY_SERVER_REGISTRATION".to_string(),
        "false".to_string(),
    )];
    let err = Config::from_toml_and_env("", env)
        .expect_err("removed variable")
        .to_string();
    assert!(err.contains("PARLEY_ACCOUNTS_REGISTRATION"), "{err}");
    let zero = Config::from_toml_and_env("[accounts]\nmax_invite_uses = 0\n", []);
    assert!(zero.is_err());
}

#[test]
fn webhooks_and_their_delivery_settings() {
    let text = r#"
        [[webhooks]]
        url = "https://n8n.example/webhook/parley"
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        events = ["message.created", "custom.*"]
        channels = ["team:*"]
        [webhook_delivery]
        retry_schedule = ["1s", "1m"]
        timeout = "3s"
        [channels."ops"]
        publish = "bots"
    "#;
    let env = [(
        "PARLEY_WEBHOOK_DELIVERY_CONCURRENCY".to_string(),
        "3".to_string(),
    )];
    let c = Config::from_toml_and_env(text, env).expect("webhooks");
    assert_eq!(c.webhooks.len(), 1);
    assert_eq!(c.webhooks[0].channels, ["team:*"]);
    assert_eq!(
        c.webhook_delivery.retry_schedule,
        [Duration::from_secs(1), Duration::from_secs(60)]
    );
    assert_eq!(c.webhook_delivery.timeout, Duration::from_secs(3));
    assert_eq!(c.webhook_delivery.concurrency, 3);
    assert_eq!(
        c.channels["ops"].publish,
        parley_protocol::PublishPolicy::Bots
    );
    let defaults = Config::from_toml_and_env("", []).expect("defaults");
    assert_eq!(defaults.storage.backend, super::StorageBackend::Sqlite);
    let pg = Config::from_toml_and_env(
        "",
        [
            ("PARLEY_STORAGE_BACKEND".to_owned(), "postgres".to_owned()),
            (
                "PARLEY_STORAGE_POSTGRES_URL".to_owned(),
                "postgres://parley@db.internal:5432/parley".to_owned(),
            ),
        ],
    )
    .expect("postgres from the environment");
    assert_eq!(pg.storage.backend, super::StorageBackend::Postgres);
    let cluster = Config::from_toml_and_env(
        "[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n",
        [
            (
                "PARLEY_CLUSTER_REDIS_URL".to_owned(),
                "redis://r:6379".to_owned(),
            ),
            (
                "PARLEY_CLUSTER_HEARTBEAT_INTERVAL".to_owned(),
                "500ms".to_owned(),
            ),
        ],
    )
    .expect("cluster from the environment");
    assert_eq!(cluster.cluster.redis_url.as_deref(), Some("redis://r:6379"));
    assert_eq!(
        cluster.cluster.heartbeat_interval,
        Duration::from_millis(500)
    );
    assert!(cluster.ignored_env.is_empty());
    assert_eq!(
        pg.storage.postgres_url.as_deref(),
        Some("postgres://parley@db.internal:5432/parley")
    );
    assert_eq!(defaults.webhook_delivery.retry_schedule.len(), 9);
    assert!(defaults.webhooks.is_empty());
    for (bad, why) in [
        ("[[webhooks]]\nurl = \"ftp://x.example/\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"*\"]\n", "http"),
        ("[[webhooks]]\nurl = \"https://x.example/\"\nsecret = \"nope\"\nevents = [\"*\"]\n", "whsec_"),
        ("[[webhooks]]\nurl = \"https://x.example/\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"message.sent\"]\n", "unknown event type"),
        ("[webhook_delivery]\ntimeout = \"0s\"\n", "timeout"),
        ("[webhook_delivery]\nretry_schedule = [\"soon\"]\n", "soon"),
        ("[realtime]\nmax_event_size = 0\n", "max_event_size"),
        ("[websocket]\nmax_batch_bytes = 0\n", "max_batch_bytes"),
        ("[storage]\ncheckpoint_pages = 0\n", "checkpoint_pages"),
        ("[storage]\nbackend = \"postgres\"\n", "needs storage.postgres_url"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h:notaport/db\"\n", "not a PostgreSQL URL"),
        ("[storage]\nbackend = \"mysql\"\n", "mysql"),
        ("[cluster]\nredis_url = \"redis://127.0.0.1:6379\"\n", "needs storage.backend"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"http://x\"\n", "not a Redis URL"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\npublish_queue = 0\n", "publish_queue"),
        ("[server]\nlisten = \"0.0.0.0:8080\"\n[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\n", "cluster.advertise must say"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\nadvertise = \"ftp://h:1\"\n", "must start with http://"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\nadvertise = \"http://h:1/docs\"\n", "nothing more"),
        ("[storage]\nbackend = \"postgres\"\npostgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\ndocument_lease = \"100ms\"\n", "document_lease"),
        ("[server]\ncors_origins = [\"app.example.com\"]\n", "http:// or https://"),
        ("[server]\ncors_origins = [\"https://app.example.com/\"]\n", "no path"),
        ("[server]\ncors_origins = [\"https://\"]\n", "no path"),
        ("[websocket]\nmax_batch_window = \"soon\"\n", "soon"),
        ("[channels.\"ops\"]\npublish = \"everyone\"\n", "everyone"),
    ] {
        let err = Config::from_toml_and_env(bad, [])
            .expect_err(bad)
            .to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// A node listening on every interface says where the others reach it; then it starts.
#[test]
fn a_node_on_every_interface_advertises_its_address() {
    let text = "[server]\nlisten = \"0.0.0.0:8080\"\n[storage]\nbackend = \"postgres\"\n\
                postgres_url = \"postgres://h/db\"\n[cluster]\nredis_url = \"redis://h\"\n\
                advertise = \"https://node-a.internal:8443/\"\ndocument_lease = \"3s\"\n";
    let config = Config::from_toml_and_env(text, []).expect("loads");
    assert_eq!(
        config.cluster.advertise.as_deref(),
        Some("https://node-a.internal:8443/")
    );
    assert_eq!(
        config.cluster.document_lease,
        std::time::Duration::from_secs(3)
    );
}

/// The blocks of the realtime product Parley is modelled on load as written:
/// `[websocket_config]` is `[websocket]`, and `conflict_resolution` is accepted on channels and
/// documents, operational transform with a notice (Parley's documents are a CRDT).
#[test]
fn the_modelled_products_blocks_load() {
    let text = r#"
        [realtime]
        enabled = true
        max_connections = 10000
        channel_limit = 100
        message_retention = "24h"
        presence_timeout = "60s"

        [websocket_config]
        ping_interval = "25s"
        pong_timeout = "10s"
        max_frame_size = "64kb"

        [channels."document-edit"]
        type = "presence"
        authentication = "required"
        presence = true
        message_history = 1000
        conflict_resolution = "operational_transform"

        [documents]
        conflict_resolution = "operational_transform"
    "#;
    let c = Config::from_toml_and_env(text, []).expect("the modelled blocks");
    assert_eq!(c.websocket.ping_interval, Duration::from_secs(25));
    assert_eq!(c.websocket.max_frame_size, 64 * 1024);
    let notices = c.notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices.iter().all(|n| n.contains("CRDT")), "{notices:?}");
    let crdt = Config::from_toml_and_env("[documents]\nconflict_resolution = \"crdt\"\n", [])
        .expect("crdt");
    assert!(crdt.notices().is_empty());
    let bad = Config::from_toml_and_env("[documents]\nconflict_resolution = \"lww\"\n", []);
    assert!(bad.is_err());
}
