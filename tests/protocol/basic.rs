//! Basic scenario: bundle, initial message, reply, then 10 x 10 messages both ways.

use hemlis_test::party::*;

#[test]
fn ten_by_ten_in_order() {
    let (mut alice, mut bob) = established(true);
    for round in 0..10 {
        for i in 0..10 {
            let text = format!("a{round}-{i}");
            let env = alice.send(text.as_bytes());
            assert_eq!(bob.receive(&env).unwrap().plaintext, text.as_bytes());
        }
        for i in 0..10 {
            let text = format!("b{round}-{i}");
            let env = bob.send(text.as_bytes());
            assert_eq!(alice.receive(&env).unwrap().plaintext, text.as_bytes());
        }
    }
}
