//! Invites, account states, reset codes, display names and avatars.

use parley_protocol::ErrorCode;

use super::{code, new_user, Harness};
use crate::store::{now_ms, NewInvite, NewToken, UserCreation, DELETED_DISPLAY_NAME};

fn token(hash: &str) -> NewToken {
    NewToken {
        hash: hash.as_bytes().to_vec(),
        label: "test".into(),
        ..NewToken::default()
    }
}

fn invite(code: &str, by: i64, uses: u32, max_live: u32) -> NewInvite {
    NewInvite {
        code_hash: code.as_bytes().to_vec(),
        created_by: by,
        uses,
        expires_at: now_ms() + 60_000,
        max_live,
    }
}

pub async fn invites_are_used_once_per_use_and_capped(h: &Harness) {
    let root = h.user("root").await;
    let people = &h.stores.people;
    let made = people
        .create_invite(invite("one", root.id, 1, 2))
        .await
        .unwrap();
    assert_eq!((made.uses_left, made.created_by.id), (1, root.id));
    people
        .create_invite(invite("two", root.id, 2, 2))
        .await
        .unwrap();
    assert_eq!(
        code(people.create_invite(invite("three", root.id, 1, 2)).await),
        ErrorCode::LimitReached
    );
    let now = now_ms();
    let first = people
        .register_with_invite(b"one".to_vec(), now, new_user("alice", None), token("a"))
        .await
        .unwrap();
    assert!(matches!(first, UserCreation::Created(_)));
    assert_eq!(
        code(
            people
                .register_with_invite(b"one".to_vec(), now, new_user("bob", None), token("b"))
                .await
        ),
        ErrorCode::InvalidInvite
    );
    // The refused registration left no user behind.
    assert!(h
        .stores
        .accounts
        .user_by_name("bob".into())
        .await
        .unwrap()
        .is_none());
    // A taken name does not use the invite up.
    assert_eq!(
        code(
            people
                .register_with_invite(b"two".to_vec(), now, new_user("alice", None), token("c"))
                .await
        ),
        ErrorCode::UserExists
    );
    let live = people.live_invites(None, now).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].uses_left, 2);
    assert!(people.revoke_invite(live[0].id, now).await.unwrap());
    assert!(!people.revoke_invite(live[0].id, now).await.unwrap());
    assert!(people
        .live_invites(Some(root.id), now)
        .await
        .unwrap()
        .is_empty());
    let used = people.invite(made.id).await.unwrap().unwrap();
    assert_eq!(used.used_by.len(), 1);
}

pub async fn disabled_and_deleted_accounts_lose_their_tokens(h: &Harness) {
    let (root, alice) = (h.user("root").await, h.user("alice").await);
    let (people, accounts) = (&h.stores.people, &h.stores.accounts);
    let id = accounts
        .issue_token(alice.id, token("alice-1"))
        .await
        .unwrap();
    assert_eq!(people.set_disabled(alice.id, true).await.unwrap(), [id]);
    assert!(people.account(alice.id).await.unwrap().unwrap().disabled);
    accounts
        .issue_token(alice.id, token("alice-2"))
        .await
        .unwrap();
    assert!(accounts
        .token_by_hash(b"alice-2".to_vec())
        .await
        .unwrap()
        .is_none());
    people.set_disabled(alice.id, false).await.unwrap();
    assert!(accounts
        .token_by_hash(b"alice-2".to_vec())
        .await
        .unwrap()
        .is_some());
    let _ = root;
    people.delete_user(alice.id).await.unwrap();
    let gone = people.account(alice.id).await.unwrap().unwrap();
    assert!(gone.deleted);
    assert_eq!(
        gone.user.display_name.as_deref(),
        Some(DELETED_DISPLAY_NAME)
    );
    assert_eq!(gone.user.name, format!("deleted-{}", alice.id));
    assert!(accounts
        .token_by_hash(b"alice-2".to_vec())
        .await
        .unwrap()
        .is_none());
    let listed = people.accounts(0, 10).await.unwrap();
    assert!(listed.iter().all(|a| a.user.id != alice.id));
    assert_eq!(
        code(people.delete_user(alice.id).await),
        ErrorCode::UserNotFound
    );
}

pub async fn the_last_admin_stays(h: &Harness) {
    let mut admin = new_user("root", None);
    admin.is_admin = true;
    let UserCreation::Created(root) = h.stores.accounts.create_user(admin, None).await.unwrap()
    else {
        panic!("root not created");
    };
    let people = &h.stores.people;
    assert_eq!(
        code(people.set_disabled(root.id, true).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(people.delete_user(root.id).await),
        ErrorCode::Forbidden
    );
}

pub async fn reset_codes_burn_on_use(h: &Harness) {
    let alice = h.user("alice").await;
    let people = &h.stores.people;
    h.stores
        .accounts
        .issue_token(alice.id, token("t"))
        .await
        .unwrap();
    let now = now_ms();
    people
        .set_reset_code(alice.id, b"code".to_vec(), now + 60_000)
        .await
        .unwrap();
    let found = people
        .reset_code_user("alice".into(), b"code".to_vec(), now)
        .await
        .unwrap();
    assert_eq!(found, Some(alice.id));
    assert!(people
        .reset_code_user("alice".into(), b"other".to_vec(), now)
        .await
        .unwrap()
        .is_none());
    let revoked = people
        .reset_password(alice.id, b"code".to_vec(), "new-hash".into(), now)
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        code(
            people
                .reset_password(alice.id, b"code".to_vec(), "x".into(), now)
                .await
        ),
        ErrorCode::InvalidResetCode
    );
}

pub async fn display_names_and_avatars_are_set(h: &Harness) {
    let (alice, _bob) = (h.user("alice").await, h.user("bob").await);
    let people = &h.stores.people;
    let looks = people
        .set_display_name(alice.id, Some("Bob".into()), Some("bob".into()))
        .await
        .unwrap();
    assert!(matches!(looks, UserCreation::LooksLike(name) if name == "bob"));
    let set = people
        .set_display_name(alice.id, Some("Al".into()), Some("al".into()))
        .await
        .unwrap();
    assert!(matches!(set, UserCreation::Created(u) if u.display_name.as_deref() == Some("Al")));
    let user = people
        .set_avatar(alice.id, Some(vec![1, 2, 3]))
        .await
        .unwrap();
    let path = user.avatar.unwrap();
    let (image, tag) = people.avatar(alice.id).await.unwrap().unwrap();
    assert_eq!(image, [1, 2, 3]);
    assert!(path.ends_with(&tag), "{path}");
    let user = people.set_avatar(alice.id, None).await.unwrap();
    assert!(user.avatar.is_none());
    assert!(people.avatar(alice.id).await.unwrap().is_none());
}
