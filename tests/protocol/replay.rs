//! Replay: sessions without a one-time prekey, replayed initial messages (with and without
//! a one-time prekey, with and without the session they created), and a replay of every
//! message of a conversation. Every rejection leaves the stored state byte-identical.

use hemlis::{DecryptError, HandshakeError, StateError};
use hemlis::{Error, Limits, PeerSessions};
use hemlis_test::party::*;

/// Sizes for a plaintext of up to 191 bytes (docs/PROTOCOL.md, section 5): a post-quantum
/// initial envelope is its 1,208-byte prefix (with the 1,088-byte KEM ciphertext), the
/// sealed header (80), the body nonce (24), the padded body (192) and the tag (16); a
/// message envelope has the 2-byte prefix instead.
const INITIAL_LEN: usize = 1208 + 80 + 24 + 192 + 16;
const MESSAGE_LEN: usize = 2 + 80 + 24 + 192 + 16;
/// Offset of the KEM flag of an initial envelope (docs/PROTOCOL.md, section 5.1).
const KEM_FLAG: usize = 11;

/// Delivers `envelope` to `receiver`, expects `expected`, and checks that the receiver's
/// stored state did not change.
fn assert_rejected(receiver: &mut Party, envelope: &[u8], expected: Error, what: &str) {
    let before = receiver.snapshot();
    let prekeys = receiver.account.one_time_prekeys();
    match receiver.receive(envelope) {
        Ok(d) => panic!("{what}: accepted again: {:?}", d.plaintext),
        Err(e) => assert_eq!(e, expected, "{what}"),
    }
    assert!(receiver.snapshot() == before, "{what}: stored state changed");
    assert_eq!(receiver.account.one_time_prekeys(), prekeys, "{what}");
}

/// Alice initiates to Bob and sends the first message, which Bob accepts. Returns it.
fn first_message(one_time: bool) -> (Party, Party, Vec<u8>) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");
    let d = bob.receive(&first).expect("first");
    assert_eq!(d.plaintext, b"hello bob");
    assert!(d.new_session);
    (alice, bob, first)
}

/// One ratchet turn: Bob answers, Alice receives, Alice sends, Bob receives.
fn turn(alice: &mut Party, bob: &mut Party) {
    let r = bob.send(b"turn b");
    assert_eq!(alice.receive(&r).unwrap().plaintext, b"turn b");
    let m = alice.send(b"turn a");
    assert_eq!(bob.receive(&m).unwrap().plaintext, b"turn a");
}

#[test]
fn session_without_one_time_prekey_works() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(false);
    assert!(bundle.one_time_prekey().is_none());
    assert!(bob.account.one_time_prekeys().is_empty());
    alice.initiate(&bundle);
    for round in 0..10 {
        for i in 0..10 {
            let text = format!("a{round}-{i}");
            let d = bob.receive(&alice.send(text.as_bytes())).unwrap();
            assert_eq!(d.plaintext, text.as_bytes());
            assert_eq!(d.new_session, round == 0 && i == 0);
            assert_eq!(&d.sender, alice.account.identity_key());
        }
        for i in 0..10 {
            let text = format!("b{round}-{i}");
            let d = alice.receive(&bob.send(text.as_bytes())).unwrap();
            assert_eq!(d.plaintext, text.as_bytes());
            assert!(!d.new_session);
            assert_eq!(&d.sender, bob.account.identity_key());
        }
    }
    assert!(bob.account.one_time_prekeys().is_empty());
    assert_eq!(alice.peer.previous_len(), 0);
    assert_eq!(bob.peer.previous_len(), 0);
}

/// While the session the initial message created is held and its first chain is kept, the
/// replay belongs to that session: a duplicate. Once the chain is evicted, no session opens
/// the header and the account's replay record refuses it.
fn replayed_initial_message_with_session(one_time: bool) {
    let (mut alice, mut bob, first) = first_message(one_time);
    assert!(bob.account.one_time_prekeys().is_empty());

    // The initial chain is Bob's current receiving chain.
    assert_rejected(
        &mut bob,
        &first,
        Error::Decrypt(DecryptError::Duplicate),
        "replay, current chain",
    );

    // Each turn moves Alice to a new sending chain; the initial chain becomes old chain 1,
    // 2, ... turns back, and is evicted when more than max_old_chains are held.
    let max_old_chains = Limits::default().max_old_chains;
    for turns in 1..=max_old_chains + 2 {
        turn(&mut alice, &mut bob);
        let expected = if turns <= max_old_chains {
            Error::Decrypt(DecryptError::Duplicate)
        } else {
            Error::Handshake(HandshakeError::ReplayedInitialMessage)
        };
        assert_rejected(&mut bob, &first, expected, &format!("replay after {turns} turns"));
    }
    turn(&mut alice, &mut bob);
}

#[test]
fn replayed_initial_message_with_one_time_prekey_and_session_is_rejected() {
    replayed_initial_message_with_session(true);
}

#[test]
fn replayed_initial_message_without_one_time_prekey_and_session_is_rejected() {
    replayed_initial_message_with_session(false);
}

/// The responder lost its sessions (fresh `PeerSessions`, same account): the replay goes to
/// the account, whose replay record is checked before the one-time prekey and the one-time
/// KEM prekey (both gone) and before any decapsulation of the KEM ciphertext.
fn replayed_initial_message_without_session(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"first");
    let second = alice.send(b"second");
    assert!(bob.receive(&first).unwrap().new_session);
    assert!(bob.account.one_time_prekeys().is_empty());

    bob.peer = PeerSessions::new(Limits::default());
    assert_rejected(
        &mut bob,
        &first,
        Error::Handshake(HandshakeError::ReplayedInitialMessage),
        "replayed first",
    );
    // A later initial message with the same base key, never delivered before, cannot
    // recreate the session either.
    assert_rejected(
        &mut bob,
        &second,
        Error::Handshake(HandshakeError::ReplayedInitialMessage),
        "unseen second",
    );
    assert!(bob.peer.active().is_none());
}

#[test]
fn replayed_initial_message_with_one_time_prekey_without_session_is_rejected() {
    replayed_initial_message_without_session(true);
}

#[test]
fn replayed_initial_message_without_one_time_prekey_without_session_is_rejected() {
    replayed_initial_message_without_session(false);
}

#[test]
fn new_initiation_with_a_used_one_time_prekey_is_rejected() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    assert!(bob.receive(&alice.send(b"first")).unwrap().new_session);

    // Alice starts again from the same, stale bundle: a new base key, a used prekey.
    alice.initiate(&bundle);
    let again = alice.send(b"again");
    assert_rejected(
        &mut bob,
        &again,
        Error::Handshake(HandshakeError::UnknownOneTimePrekey),
        "stale one-time prekey",
    );
    assert_eq!(bob.peer.previous_len(), 0);
}

#[test]
fn new_initiation_without_one_time_prekey_is_a_new_session() {
    // Without a one-time prekey, the same bundle may start several sessions: each has its
    // own base key, and only a repeated base key is a replay.
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(false);
    alice.initiate(&bundle);
    let first = alice.send(b"first");
    assert!(bob.receive(&first).unwrap().new_session);
    alice.initiate(&bundle);
    let again = alice.send(b"again");
    let d = bob.receive(&again).unwrap();
    assert!(d.new_session);
    assert_eq!(d.plaintext, b"again");
    assert_eq!(bob.peer.previous_len(), 1);
    // The first session's message is still a duplicate in the (now previous) session.
    assert_rejected(
        &mut bob,
        &first,
        Error::Decrypt(DecryptError::Duplicate),
        "replayed first",
    );
    assert_rejected(
        &mut bob,
        &again,
        Error::Decrypt(DecryptError::Duplicate),
        "replayed again",
    );
}

#[test]
fn replay_of_out_of_order_messages_is_duplicate() {
    let (mut alice, mut bob) = established(true);
    let msgs: Vec<Vec<u8>> = (0..6).map(|i| alice.send(format!("m{i}").as_bytes())).collect();
    for i in [5, 0, 3, 1, 4, 2] {
        assert_eq!(
            bob.receive(&msgs[i]).unwrap().plaintext,
            format!("m{i}").as_bytes()
        );
        assert_rejected(
            &mut bob,
            &msgs[i],
            Error::Decrypt(DecryptError::Duplicate),
            &format!("m{i} again"),
        );
    }
    for (i, m) in msgs.iter().enumerate() {
        assert_rejected(
            &mut bob,
            m,
            Error::Decrypt(DecryptError::Duplicate),
            &format!("m{i} at the end"),
        );
    }
    assert_eq!(bob.peer.active().unwrap().skipped_key_count(), 0);
}

/// A message a party decrypted, with the index of its sender's sending chain.
struct Received {
    envelope: Vec<u8>,
    chain: usize,
    initial: bool,
}

/// The error a replay gets once the receiver's current receiving chain is `current`: the
/// current chain and the `max_old_chains` before it are kept (their header keys open the
/// header, and no key is left: a duplicate); older ones are evicted, and only the account's
/// replay record still knows an initial message. That record is checked before the
/// one-time prekeys and before the KEM ciphertext is decapsulated, so a replayed initial
/// message is `ReplayedInitialMessage` with or without one-time prekeys (which are used up):
/// never `UnknownOneTimePrekey`, `UnknownKemPrekey` or `SealedIdentity`.
fn replay_error(r: &Received, current: usize) -> Error {
    if r.chain + Limits::default().max_old_chains >= current {
        Error::Decrypt(DecryptError::Duplicate)
    } else if r.initial {
        Error::Handshake(HandshakeError::ReplayedInitialMessage)
    } else {
        Error::Decrypt(DecryptError::UnknownSession)
    }
}

/// Ten rounds of ten messages each way, starting from the initiation (Alice's first ten
/// messages are initial envelopes). Every message is replayed right after it decrypted, and
/// all of them again at the end.
fn replay_everything(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let mut at_bob: Vec<Received> = Vec::new();
    let mut at_alice: Vec<Received> = Vec::new();
    for round in 0..10 {
        for i in 0..10 {
            let text = format!("a{round}-{i}");
            let envelope = alice.send(text.as_bytes());
            let initial = round == 0;
            assert_eq!(envelope.len(), if initial { INITIAL_LEN } else { MESSAGE_LEN });
            if initial {
                assert_eq!((envelope[1], envelope[KEM_FLAG]), (1, 1), "post-quantum initial");
            }
            assert_eq!(bob.receive(&envelope).unwrap().plaintext, text.as_bytes());
            assert_rejected(
                &mut bob,
                &envelope,
                Error::Decrypt(DecryptError::Duplicate),
                &text,
            );
            at_bob.push(Received {
                envelope,
                chain: round,
                initial,
            });
        }
        for i in 0..10 {
            let text = format!("b{round}-{i}");
            let envelope = bob.send(text.as_bytes());
            assert_eq!(alice.receive(&envelope).unwrap().plaintext, text.as_bytes());
            assert_rejected(
                &mut alice,
                &envelope,
                Error::Decrypt(DecryptError::Duplicate),
                &text,
            );
            at_alice.push(Received {
                envelope,
                chain: round,
                initial: false,
            });
        }
    }

    // Bob's current receiving chain is Alice's chain 9; he keeps chains 5 to 8 as old
    // chains. Chains 1 to 4 are forgotten; chain 0 (the initial envelopes) too, but the
    // replay record remembers its base key. The same holds for Alice with Bob's chains.
    let (mut duplicate, mut unknown, mut replayed) = (0, 0, 0);
    for (party, received) in [(&mut bob, &at_bob), (&mut alice, &at_alice)] {
        for (k, r) in received.iter().enumerate() {
            let expected = replay_error(r, 9);
            match expected {
                Error::Decrypt(DecryptError::Duplicate) => duplicate += 1,
                Error::Decrypt(DecryptError::UnknownSession) => unknown += 1,
                _ => replayed += 1,
            }
            assert_rejected(party, &r.envelope, expected, &format!("replay of message {k}"));
        }
    }
    // Duplicates: chains 5 to 9 of both. Unknown: Bob's chains 1 to 4, Alice's 0 to 4.
    // Replayed initial messages: Bob's chain 0.
    assert_eq!((duplicate, unknown, replayed), (100, 40 + 50, 10));

    // The conversation goes on.
    for i in 0..3 {
        let text = format!("after {i}");
        assert_eq!(
            bob.receive(&alice.send(text.as_bytes())).unwrap().plaintext,
            text.as_bytes()
        );
        assert_eq!(
            alice.receive(&bob.send(text.as_bytes())).unwrap().plaintext,
            text.as_bytes()
        );
    }
}

#[test]
fn replay_of_every_message_of_a_ten_by_ten_conversation_is_rejected() {
    replay_everything(true);
}

#[test]
fn replay_of_every_message_of_a_ten_by_ten_conversation_without_one_time_prekey_is_rejected() {
    replay_everything(false);
}

#[test]
fn replay_record_full_refuses_new_sessions_until_the_signed_prekey_rotates() {
    let mut l = Limits::default();
    l.max_replay_records = 2;
    let mut bob = Party::with_limits(2, l);
    let mut firsts = Vec::new();
    for k in 0..2 {
        let mut alice = Party::new(10 + k);
        let bundle = bob.bundle(false);
        alice.initiate(&bundle);
        let first = alice.send(b"hi");
        bob.peer = PeerSessions::new(l);
        assert!(bob.receive(&first).unwrap().new_session);
        firsts.push(first);
    }
    bob.peer = PeerSessions::new(l);
    // A third initiator: the record of the signed prekey is full.
    let mut carol = Party::new(20);
    let bundle = bob.bundle(true);
    carol.initiate(&bundle);
    let hello = carol.send(b"hello");
    assert_rejected(
        &mut bob,
        &hello,
        Error::State(StateError::ReplayRecordFull),
        "third session",
    );
    // Replays are still recognised as such (the record is checked first).
    for (k, first) in firsts.iter().enumerate() {
        assert_rejected(
            &mut bob,
            first,
            Error::Handshake(HandshakeError::ReplayedInitialMessage),
            &format!("replay {k}"),
        );
    }

    // After a rotation, the retired prekey keeps its record while it answers.
    bob.account.rotate_signed_prekey(&mut bob.rng, 2_000);
    assert_rejected(
        &mut bob,
        &hello,
        Error::State(StateError::ReplayRecordFull),
        "old prekey, after rotation",
    );
    assert_rejected(
        &mut bob,
        &firsts[0],
        Error::Handshake(HandshakeError::ReplayedInitialMessage),
        "replay, retired prekey",
    );
    let mut carol = Party::new(21);
    let bundle = bob.bundle(false);
    carol.initiate(&bundle);
    assert!(bob.receive(&carol.send(b"hello")).unwrap().new_session);

    // Once the retired prekey expires, its messages name an unknown prekey.
    bob.peer = PeerSessions::new(l);
    bob.account.remove_expired_signed_prekeys(10_000, 1_000);
    assert_rejected(
        &mut bob,
        &firsts[0],
        Error::Handshake(HandshakeError::UnknownSignedPrekey),
        "replay, expired prekey",
    );
    assert_rejected(
        &mut bob,
        &hello,
        Error::Handshake(HandshakeError::UnknownSignedPrekey),
        "expired prekey",
    );
}
