//! Limits: the forward jump (`max_skip`) is refused before any key is derived and leaves
//! the state unchanged; the skipped-key store evicts oldest first; old receiving chains are
//! kept for late messages up to `max_old_chains` turns back.

use hemlis::DecryptError;
use hemlis::{Account, Error, Limits, PeerSessions, Session};
use hemlis_test::party::*;
use hemlis_test::sessions::copy_session;

/// Delivers `envelope` to `receiver`, expects `expected`, and checks that the receiver's
/// stored state did not change.
fn assert_rejected(receiver: &mut Party, envelope: &[u8], expected: Error, what: &str) {
    let before = receiver.snapshot();
    match receiver.receive(envelope) {
        Ok(d) => panic!("{what}: accepted: {:?}", d.plaintext),
        Err(e) => assert_eq!(e, expected, "{what}"),
    }
    assert!(receiver.snapshot() == before, "{what}: stored state changed");
}

fn assert_decrypts(receiver: &mut Party, envelope: &[u8], text: &str) {
    let d = receiver
        .receive(envelope)
        .unwrap_or_else(|e| panic!("{text}: {e:?}"));
    assert_eq!(d.plaintext, text.as_bytes());
    assert!(!d.new_session);
}

fn skipped(party: &Party) -> usize {
    party.peer.active().expect("active session").skipped_key_count()
}

/// Like `established(true)`, with both parties under `limits`.
fn established_with(limits: Limits) -> (Party, Party) {
    let mut alice = Party::with_limits(1, limits);
    let mut bob = Party::with_limits(2, limits);
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    assert!(bob.receive(&alice.send(b"hello bob")).unwrap().new_session);
    alice.receive(&bob.send(b"hello alice")).unwrap();
    (alice, bob)
}

fn limits(edit: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    edit(&mut l);
    l
}

/// `count` messages from Alice, texts `{prefix}{i}`.
fn send_many(alice: &mut Party, prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| alice.send(format!("{prefix}{i}").as_bytes()))
        .collect()
}

/// One ratchet turn: Bob answers, Alice receives, so her next message starts a new chain.
fn bob_answers(alice: &mut Party, bob: &mut Party) {
    let r = bob.send(b"answer");
    assert_eq!(alice.receive(&r).unwrap().plaintext, b"answer");
}

#[test]
fn jump_beyond_max_skip_in_the_current_chain_is_too_far_ahead() {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_skip = 50));
    let m = send_many(&mut alice, "m", 53);
    assert_decrypts(&mut bob, &m[0], "m0");
    // Bob expects message 1; message 52 would skip 51 keys.
    assert_rejected(
        &mut bob,
        &m[52],
        Error::Decrypt(DecryptError::TooFarAhead),
        "skip 51",
    );
    assert_eq!(skipped(&bob), 0);
    // Message 51 skips exactly 50.
    assert_decrypts(&mut bob, &m[51], "m51");
    assert_eq!(skipped(&bob), 50);
    assert_decrypts(&mut bob, &m[52], "m52");
    for (i, env) in m.iter().enumerate().take(51).skip(1) {
        assert_decrypts(&mut bob, env, &format!("m{i}"));
    }
    assert_eq!(skipped(&bob), 0);
}

#[test]
fn jump_beyond_max_skip_in_a_new_chain_is_too_far_ahead() {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_skip = 50));
    // Alice's first chain after Bob's answer: Bob has not seen any of it.
    let m = send_many(&mut alice, "m", 52);
    assert_rejected(
        &mut bob,
        &m[51],
        Error::Decrypt(DecryptError::TooFarAhead),
        "new chain, skip 51",
    );
    assert_eq!(skipped(&bob), 0);
    assert_decrypts(&mut bob, &m[50], "m50");
    assert_eq!(skipped(&bob), 50);
    assert_decrypts(&mut bob, &m[51], "m51");
    for (i, env) in m.iter().enumerate().take(50) {
        assert_decrypts(&mut bob, env, &format!("m{i}"));
    }
    assert_eq!(skipped(&bob), 0);
}

#[test]
fn gap_beyond_max_skip_in_the_previous_chain_is_too_far_ahead() {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_skip = 50));
    let m = send_many(&mut alice, "m", 52);
    assert_decrypts(&mut bob, &m[0], "m0");
    bob_answers(&mut alice, &mut bob);
    // Alice's new chain says her previous one had 52 messages; Bob has seen 1 of them, so
    // the 51 keys m1..m51 would have to be derived.
    let p0 = alice.send(b"p0");
    assert_rejected(
        &mut bob,
        &p0,
        Error::Decrypt(DecryptError::TooFarAhead),
        "previous chain gap 51",
    );
    assert_eq!(skipped(&bob), 0);
    // With m1 seen, the gap is 50.
    assert_decrypts(&mut bob, &m[1], "m1");
    assert_decrypts(&mut bob, &p0, "p0");
    assert_eq!(skipped(&bob), 50);
    for (i, env) in m.iter().enumerate().skip(2) {
        assert_decrypts(&mut bob, env, &format!("m{i}"));
    }
    assert_eq!(skipped(&bob), 0);
}

#[test]
fn default_max_skip_plus_one_is_too_far_ahead_and_keeps_the_skipped_keys() {
    let (mut alice, mut bob) = established(true);
    let max_skip = Limits::default().max_skip as usize;
    assert_eq!(Limits::default().max_skipped_keys, max_skip);
    let m = send_many(&mut alice, "m", max_skip + 5);
    assert_decrypts(&mut bob, &m[0], "m0");
    // One skipped key (m1), so that "unchanged" is not just "still empty".
    assert_decrypts(&mut bob, &m[2], "m2");
    assert_eq!(skipped(&bob), 1);
    // Bob expects message 3: message max_skip + 4 would skip max_skip + 1 keys.
    let too_far = max_skip + 4;
    assert_rejected(
        &mut bob,
        &m[too_far],
        Error::Decrypt(DecryptError::TooFarAhead),
        "default limit, one too far",
    );
    assert_eq!(skipped(&bob), 1);
    // Message max_skip + 3 skips exactly max_skip keys (m3..m2002); with m1 that is one
    // more than the store holds, so m1, the oldest, is evicted.
    assert_decrypts(&mut bob, &m[too_far - 1], &format!("m{}", too_far - 1));
    assert_eq!(skipped(&bob), max_skip);
    assert_rejected(
        &mut bob,
        &m[1],
        Error::Decrypt(DecryptError::Duplicate),
        "m1, evicted",
    );
    assert_decrypts(&mut bob, &m[too_far], &format!("m{too_far}"));
    assert_decrypts(&mut bob, &m[3], "m3");
    assert_decrypts(&mut bob, &m[too_far - 2], &format!("m{}", too_far - 2));
    assert_eq!(skipped(&bob), max_skip - 2);
}

/// Where the sending counters sit in `Session::to_bytes` (docs/PROTOCOL.md, section 9:
/// state version and kind, then the postcard encoding of the fields of `SessionState` in
/// order): local identity (32), remote identity (32), initiator (1), post-quantum (1),
/// ratchet key pair (secret 32, public 32), root key (32), `Some` tag of the sending chain
/// (1), its chain key (32), then its message number `Ns` as a postcard varint.
const SEND_N_AT: usize = 2 + 32 + 32 + 1 + 1 + 64 + 32 + 1 + 32;

fn varint(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Replaces the varint `old` at `at` by `new`.
fn replace_varint(bytes: &mut Vec<u8>, at: usize, old: u32, new: u32) {
    let old = varint(old);
    assert_eq!(&bytes[at..at + old.len()], old.as_slice(), "layout changed");
    bytes.splice(at..at + old.len(), varint(new));
}

/// A sender's session as its counters stand, for `forge`.
struct Counters {
    /// Messages sent in the current sending chain (`Ns`).
    sent: u32,
    /// Messages received in the current receiving chain (`Nr`); the session has one.
    received: u32,
    /// Length of the previous sending chain (`PN`).
    previous: u32,
}

/// A copy of `session` whose next header claims message number `n` and previous chain
/// length `pn`, keeping its chain keys: the receiver's header key opens that header (it is
/// authentic), and the body is under the key of the real next number. This forges what a
/// sender that really sent that many messages would send, without sending them.
fn forge(session: &Session, now: &Counters, n: u32, pn: u32) -> Session {
    let mut bytes = session.to_bytes().unwrap().to_vec();
    // Check the layout before editing it.
    assert_eq!(&bytes[2..34], session.local_identity().as_bytes());
    assert_eq!(&bytes[34..66], session.remote_identity().as_bytes());
    assert_eq!(bytes[66], u8::from(session.is_initiator()));
    assert_eq!(bytes[67], u8::from(session.is_post_quantum()));
    assert!(
        session.is_post_quantum(),
        "the sessions forged here are post-quantum"
    );
    assert_eq!(bytes[SEND_N_AT - 33], 1, "Some(sending chain)");
    // After Ns: the sending header key (32), the next sending header key (32), `Some` tag of
    // the receiving chain (1), its chain key (32), Nr, its header key (32), the next
    // receiving header key (32), then PN.
    let recv_at = SEND_N_AT + varint(now.sent).len() + 64;
    assert_eq!(bytes[recv_at], 1, "Some(receiving chain)");
    let pn_at = recv_at + 1 + 32 + varint(now.received).len() + 64;
    // Edit the later field first, so the earlier offset stays valid.
    replace_varint(&mut bytes, pn_at, now.previous, pn);
    replace_varint(&mut bytes, SEND_N_AT, now.sent, n);
    Session::from_bytes(&bytes, *session.limits()).unwrap()
}

/// Header numbers of 2^32 - 2 and 10^6 are refused before any chain step: deriving the keys
/// up to them would take hours, so this test finishing at all shows the check comes first.
/// Numbers just within `max_skip` are processed: the forged header is authentic, so those
/// reach the body (which fails when the forged sender did not step its chain key), which
/// shows the edited numbers are what the header carries.
#[test]
fn far_ahead_headers_are_refused_before_any_key_is_derived() {
    let (mut alice, mut bob) = established(true);
    let max_skip = Limits::default().max_skip;
    let far = [u32::MAX - 1, 1_000_000];

    // A new chain (Bob takes the "next header key" path): Alice has sent nothing in it, has
    // received Bob's answer, and her previous chain (the initial one) had one message.
    let fresh = copy_session(alice.peer.active().unwrap());
    let now = Counters {
        sent: 0,
        received: 1,
        previous: 1,
    };
    for n in far.into_iter().chain([max_skip + 1]) {
        let env = forge(&fresh, &now, n, 1).encrypt(b"far", &mut alice.rng).unwrap();
        assert_rejected(
            &mut bob,
            &env,
            Error::Decrypt(DecryptError::TooFarAhead),
            &format!("new chain, N = {n}"),
        );
    }
    let env = forge(&fresh, &now, max_skip, 1)
        .encrypt(b"near", &mut alice.rng)
        .unwrap();
    assert_rejected(
        &mut bob,
        &env,
        Error::Decrypt(DecryptError::BodyAuthentication),
        "new chain, N = max_skip",
    );
    // The previous chain length: Bob has received 1 message of Alice's initial chain.
    for pn in far.into_iter().chain([max_skip + 2]) {
        let env = forge(&fresh, &now, 0, pn)
            .encrypt(b"far", &mut alice.rng)
            .unwrap();
        assert_rejected(
            &mut bob,
            &env,
            Error::Decrypt(DecryptError::TooFarAhead),
            &format!("PN = {pn}"),
        );
    }
    assert_eq!(skipped(&bob), 0);

    // The current chain: Bob has received message 0 and expects 1.
    assert_decrypts(&mut bob, &alice.send(b"m0"), "m0");
    let current = copy_session(alice.peer.active().unwrap());
    let now = Counters { sent: 1, ..now };
    for n in far.into_iter().chain([max_skip + 2]) {
        let env = forge(&current, &now, n, 1)
            .encrypt(b"far", &mut alice.rng)
            .unwrap();
        assert_rejected(
            &mut bob,
            &env,
            Error::Decrypt(DecryptError::TooFarAhead),
            &format!("current chain, N = {n}"),
        );
    }
    let env = forge(&current, &now, max_skip + 1, 1)
        .encrypt(b"near", &mut alice.rng)
        .unwrap();
    assert_rejected(
        &mut bob,
        &env,
        Error::Decrypt(DecryptError::BodyAuthentication),
        "current chain, N = 1 + max_skip",
    );
    assert_eq!(skipped(&bob), 0);

    // The real conversation is unaffected.
    assert_decrypts(&mut bob, &alice.send(b"m1"), "m1");
    bob_answers(&mut alice, &mut bob);
    assert_decrypts(&mut bob, &alice.send(b"p0"), "p0");

    // A previous chain length just within the limit is accepted: the header is authentic
    // and only claims that Alice sent more messages than she did.
    let r = bob.send(b"r");
    assert_decrypts(&mut alice, &r, "r");
    let session = copy_session(alice.peer.active().unwrap());
    let now = Counters {
        sent: 0,
        received: 1,
        previous: 1,
    };
    // Bob expects message 1 of Alice's previous chain (he has p0).
    let env = forge(&session, &now, 0, 2 + max_skip)
        .encrypt(b"x", &mut alice.rng)
        .unwrap();
    assert_rejected(
        &mut bob,
        &env,
        Error::Decrypt(DecryptError::TooFarAhead),
        "PN one too far",
    );
    let env = forge(&session, &now, 0, 1 + max_skip)
        .encrypt(b"x", &mut alice.rng)
        .unwrap();
    assert_decrypts(&mut bob, &env, "x");
    assert_eq!(skipped(&bob), max_skip as usize);
}

#[test]
fn skipped_key_cap_evicts_oldest_first() {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_skipped_keys = 10));
    let m = send_many(&mut alice, "m", 16);
    assert_decrypts(&mut bob, &m[0], "m0");
    // m15 skips m1..m14: 14 keys, of which the 10 newest are kept.
    assert_decrypts(&mut bob, &m[15], "m15");
    assert_eq!(skipped(&bob), 10);
    for (i, env) in m.iter().enumerate().take(5).skip(1) {
        assert_rejected(
            &mut bob,
            env,
            Error::Decrypt(DecryptError::Duplicate),
            &format!("m{i}, evicted"),
        );
    }
    for (i, env) in m.iter().enumerate().take(15).skip(5) {
        assert_decrypts(&mut bob, env, &format!("m{i}"));
    }
    assert_eq!(skipped(&bob), 0);
}

#[test]
fn skipped_key_cap_evicts_the_oldest_chain_first() {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_skipped_keys = 10));
    // Chain 1: m1..m6 skipped (6 keys).
    let m = send_many(&mut alice, "m", 8);
    assert_decrypts(&mut bob, &m[0], "m0");
    assert_decrypts(&mut bob, &m[7], "m7");
    assert_eq!(skipped(&bob), 6);
    // Chain 2: p0..p6 skipped (7 keys): 13 in all, so the 3 oldest of chain 1 go.
    bob_answers(&mut alice, &mut bob);
    let p = send_many(&mut alice, "p", 8);
    assert_decrypts(&mut bob, &p[7], "p7");
    assert_eq!(skipped(&bob), 10);
    for (i, env) in m.iter().enumerate().take(4).skip(1) {
        assert_rejected(
            &mut bob,
            env,
            Error::Decrypt(DecryptError::Duplicate),
            &format!("m{i}, evicted"),
        );
    }
    for (i, env) in m.iter().enumerate().take(7).skip(4) {
        assert_decrypts(&mut bob, env, &format!("m{i}"));
    }
    for (i, env) in p.iter().enumerate().take(7) {
        assert_decrypts(&mut bob, env, &format!("p{i}"));
    }
    assert_eq!(skipped(&bob), 0);
}

/// Delayed messages from the chains of `turns` ratchet turns, both directions, delivered
/// after one more turn. Returns whether each held message (oldest first) decrypted, after
/// checking that any that did not was refused as `UnknownSession` (its chain's header key
/// is forgotten) with the state unchanged.
fn deliver_late(turns: usize, max_old_chains: usize) -> Vec<bool> {
    let (mut alice, mut bob) = established_with(limits(|l| l.max_old_chains = max_old_chains));
    // In each turn, each side sends two messages in a new chain; the first is delivered,
    // the second held back.
    let mut held_for_bob = Vec::new();
    let mut held_for_alice = Vec::new();
    for t in 0..turns {
        let a = send_many(&mut alice, &format!("a{t}-"), 2);
        assert_decrypts(&mut bob, &a[0], &format!("a{t}-0"));
        held_for_bob.push((a[1].clone(), format!("a{t}-1")));
        let b: Vec<Vec<u8>> = (0..2).map(|i| bob.send(format!("b{t}-{i}").as_bytes())).collect();
        assert_decrypts(&mut alice, &b[0], &format!("b{t}-0"));
        held_for_alice.push((b[1].clone(), format!("b{t}-1")));
    }
    // One more turn, so the last held chains are old ones too.
    let a = alice.send(b"last a");
    assert_decrypts(&mut bob, &a, "last a");
    let b = bob.send(b"last b");
    assert_decrypts(&mut alice, &b, "last b");

    let mut results = Vec::new();
    for ((to_bob, text_a), (to_alice, text_b)) in held_for_bob.iter().zip(&held_for_alice) {
        let before = bob.snapshot();
        let ok_bob = match bob.receive(to_bob) {
            Ok(d) => d.plaintext == text_a.as_bytes(),
            Err(e) => {
                assert_eq!(e, Error::Decrypt(DecryptError::UnknownSession), "{text_a}");
                assert!(bob.snapshot() == before);
                false
            }
        };
        let before = alice.snapshot();
        let ok_alice = match alice.receive(to_alice) {
            Ok(d) => d.plaintext == text_b.as_bytes(),
            Err(e) => {
                assert_eq!(e, Error::Decrypt(DecryptError::UnknownSession), "{text_b}");
                assert!(alice.snapshot() == before);
                false
            }
        };
        assert_eq!(ok_bob, ok_alice, "{text_a} / {text_b}");
        results.push(ok_bob);
    }
    // Nothing is left behind and the conversation goes on.
    assert_decrypts(&mut bob, &alice.send(b"go on"), "go on");
    results
}

#[test]
fn delayed_messages_from_three_chains_back_still_decrypt() {
    // Held in the chains of four successive turns; delivered after one more turn, when
    // they lie 4, 3, 2 and 1 chains back, each side having stepped its DH ratchet 5 times.
    assert_eq!(Limits::default().max_old_chains, 4);
    assert_eq!(deliver_late(4, 4), [true; 4]);
}

#[test]
fn delayed_messages_decrypt_exactly_while_their_chain_is_kept() {
    // After `turns` turns and the last one, a message held in turn t's chain lies
    // turns - t chains back (the delivered first message of the last turn is the current
    // chain); it decrypts while that is at most max_old_chains.
    for max_old_chains in [1, 2, 4] {
        let turns = max_old_chains + 2;
        let expected: Vec<bool> = (0..turns).map(|t| turns - t <= max_old_chains).collect();
        assert_eq!(
            deliver_late(turns, max_old_chains),
            expected,
            "max_old_chains {max_old_chains}"
        );
    }
}

/// The limits a `PeerSessions` is created with apply to all its sessions, also to one it
/// accepts from an initial message, and a save and restore changes nothing.
#[test]
fn limits_of_peer_sessions_apply_to_the_sessions_they_accept() {
    let small = limits(|l| l.max_skip = 50);
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    // Bob's sessions use the small limits; his account keeps the defaults.
    bob.peer = PeerSessions::new(small);
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    assert!(bob.receive(&alice.send(b"hello bob")).unwrap().new_session);
    alice.receive(&bob.send(b"hello alice")).unwrap();
    let m = send_many(&mut alice, "m", 53);
    assert_decrypts(&mut bob, &m[0], "m0");

    let mut restored = Party::new(2);
    restored.account = Account::from_bytes(&bob.account.to_bytes().unwrap(), Limits::default()).unwrap();
    restored.peer = PeerSessions::from_bytes(&bob.peer.to_bytes().unwrap(), small).unwrap();
    assert_rejected(
        &mut restored,
        &m[52],
        Error::Decrypt(DecryptError::TooFarAhead),
        "after restore",
    );
    assert_eq!(bob.peer.active().unwrap().limits(), &small);
    assert_rejected(
        &mut bob,
        &m[52],
        Error::Decrypt(DecryptError::TooFarAhead),
        "before restore",
    );
}
