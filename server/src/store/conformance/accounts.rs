//! Users and tokens.

use parley_protocol::ErrorCode;

use super::{code, new_user, Harness};
use crate::store::{NewToken, UserCreation, UserRules};

fn token(hash: &str) -> NewToken {
    NewToken {
        hash: hash.as_bytes().to_vec(),
        label: "test".into(),
        ..NewToken::default()
    }
}

pub async fn user_names_are_unique_without_regard_to_case(h: &Harness) {
    let alice = h.user("alice").await;
    let accounts = &h.stores.accounts;
    assert_eq!(
        code(accounts.create_user(new_user("ALICE", None), None).await),
        ErrorCode::UserExists
    );
    let found = accounts
        .user_by_name("Alice".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, alice);
    assert!(accounts
        .user_by_name("nobody".into())
        .await
        .unwrap()
        .is_none());
    let bob = h.user("bob").await;
    let named = accounts
        .users_by_name(vec!["bob".into(), "nobody".into(), "alice".into()])
        .await
        .unwrap();
    assert_eq!(named, [Some(bob.clone()), None, Some(alice.clone())]);
    let by_id = accounts
        .users_by_id(vec![bob.id, 999, alice.id])
        .await
        .unwrap();
    assert_eq!(by_id, [bob, alice]);
}

pub async fn look_alike_display_names_are_refused(h: &Harness) {
    h.user("bob").await;
    let accounts = &h.stores.accounts;
    let created = accounts
        .create_user(new_user("mallory", Some("BOB")), Some(token("t-m")))
        .await
        .unwrap();
    match created {
        UserCreation::LooksLike(other) => assert_eq!(other, "bob"),
        UserCreation::Created(user) => panic!("created {user:?}"),
    }
    assert!(accounts
        .user_by_name("mallory".into())
        .await
        .unwrap()
        .is_none());
    assert!(
        accounts
            .token_by_hash(b"t-m".to_vec())
            .await
            .unwrap()
            .is_none(),
        "nothing was written"
    );
    let created = accounts
        .create_user(new_user("carol", Some("Carol C")), None)
        .await
        .unwrap();
    let UserCreation::Created(carol) = created else {
        panic!("carol's own display name is fine");
    };
    assert_eq!(carol.display_name.as_deref(), Some("Carol C"));
    assert!(!carol.is_admin);
}

pub async fn tokens_are_issued_found_and_revoked(h: &Harness) {
    let accounts = &h.stores.accounts;
    let created = accounts
        .create_user(new_user("alice", None), Some(token("t-1")))
        .await
        .unwrap();
    let UserCreation::Created(alice) = created else {
        panic!("alice was not created");
    };
    let first = accounts
        .token_by_hash(b"t-1".to_vec())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.user, alice);
    let second = accounts.issue_token(alice.id, token("t-2")).await.unwrap();
    let third = accounts.issue_token(alice.id, token("t-3")).await.unwrap();
    assert!(accounts.revoke_token(b"t-2".to_vec()).await.unwrap());
    assert!(!accounts.revoke_token(b"t-2".to_vec()).await.unwrap());
    assert!(!accounts.revoke_token(b"never".to_vec()).await.unwrap());
    assert!(accounts
        .token_by_hash(b"t-2".to_vec())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        accounts
            .revoked_among(vec![first.id, second, third, 999])
            .await
            .unwrap(),
        [second, 999]
    );
    assert_eq!(accounts.revoke_user_tokens(alice.id).await.unwrap(), 2);
    assert_eq!(accounts.revoke_user_tokens(alice.id).await.unwrap(), 0);
    assert!(accounts
        .token_by_hash(b"t-1".to_vec())
        .await
        .unwrap()
        .is_none());
}

pub async fn a_password_change_can_revoke_the_other_tokens(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let accounts = &h.stores.accounts;
    let kept = accounts.issue_token(alice.id, token("a-1")).await.unwrap();
    let other = accounts.issue_token(alice.id, token("a-2")).await.unwrap();
    let bobs = accounts.issue_token(bob.id, token("b-1")).await.unwrap();
    // Without `keep_token` no token is touched.
    let revoked = accounts
        .change_password(alice.id, "hash-2".into(), None)
        .await
        .unwrap();
    assert!(revoked.is_empty());
    let (_, hash) = accounts
        .user_with_password("alice".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "hash-2");
    let revoked = accounts
        .change_password(alice.id, "hash-3".into(), Some(kept))
        .await
        .unwrap();
    assert_eq!(revoked, [other]);
    assert_eq!(
        accounts
            .revoked_among(vec![kept, other, bobs])
            .await
            .unwrap(),
        [other]
    );
    let missing = accounts.change_password(9999, "x".into(), None).await;
    assert!(missing.is_err());
}

pub async fn login_reads_the_password_hash(h: &Harness) {
    let alice = h.user("alice").await;
    let accounts = &h.stores.accounts;
    let (user, hash) = accounts
        .user_with_password("ALICE".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, alice);
    assert_eq!(hash, "hash-of-alice");
    assert!(accounts
        .user_with_password("nobody".into())
        .await
        .unwrap()
        .is_none());
}

fn trimmed(name: &str) -> Option<String> {
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}

fn lowercase(name: &str) -> String {
    name.trim().to_lowercase()
}

pub async fn stored_users_are_repaired(h: &Harness) {
    let accounts = &h.stores.accounts;
    h.user("bob").await;
    for (name, display) in [("alice", "  Alice  "), ("eve", " bob "), ("dan", "Dan")] {
        let mut user = new_user(name, Some(display));
        user.display_key = None; // stored before the rules
        accounts.create_user(user, None).await.unwrap();
    }
    let rules = UserRules {
        name_key: lowercase,
        repaired: trimmed,
    };
    assert_eq!(accounts.repair_users(rules).await.unwrap(), 2);
    let display = |user: Option<crate::store::UserRecord>| user.unwrap().display_name;
    let name = |n: &str| accounts.user_by_name(n.to_owned());
    assert_eq!(
        display(name("alice").await.unwrap()).as_deref(),
        Some("Alice")
    );
    assert_eq!(
        display(name("eve").await.unwrap()),
        None,
        "a display name that passes for another user's name is cleared"
    );
    assert_eq!(display(name("dan").await.unwrap()).as_deref(), Some("Dan"));
    assert_eq!(accounts.repair_users(rules).await.unwrap(), 0);
}
