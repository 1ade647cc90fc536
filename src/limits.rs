//! Resource limits (docs/PROTOCOL.md, section 7). Every limit is checked before the work
//! it bounds: a hostile message costs at most `2 * max_skip` chain steps (the rest of the
//! old chain and the start of the new one, section 6.5) and never grows stored state
//! beyond these numbers.

/// Configurable bounds on work and stored state.
///
/// Defaults, and why:
/// - `max_skip` 2,000: one message may skip at most this many keys in one chain. Each skip
///   costs two HMAC-SHA256 calls (about a microsecond), so a hostile header costs a few
///   milliseconds at most; a legitimate gap this large means 2,000 messages sent unread.
///   vodozemac uses 2,000; libsignal's 25,000 buys little and costs twelve times the work.
/// - `max_skipped_keys` 2,000 per session, oldest evicted first: enough for one full jump;
///   about 80 KB of state at worst.
/// - `max_old_chains` 4: receiving chains kept after the peer ratchets, so late messages
///   from four turns back still decrypt and replays of them are recognised as duplicates.
///   Each costs 33 bytes when empty, and four keep an idle session under 512 bytes.
/// - `max_previous_sessions` 5 per peer device, as vodozemac: a previous session is only
///   needed for messages in flight when the peer switched sessions.
/// - `max_plaintext_len` 64 KiB: hemlis carries messages; apps encrypt attachments
///   separately and send their keys.
/// - `max_replay_records` 50,000 per signed prekey: initial messages without a one-time
///   prekey are remembered while their signed prekey lives (1.6 MB at worst); when full,
///   new sessions to that prekey are refused until it rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest forward jump in one chain, in messages.
    pub max_skip: u32,
    /// Skipped message keys kept per session; the oldest are evicted first.
    pub max_skipped_keys: usize,
    /// Old receiving chains kept per session.
    pub max_old_chains: usize,
    /// Previous sessions kept per peer device.
    pub max_previous_sessions: usize,
    /// Largest plaintext, in bytes.
    pub max_plaintext_len: usize,
    /// Initial messages remembered per signed prekey for replay detection.
    pub max_replay_records: usize,
}

impl Limits {
    /// The defaults described on [`Limits`].
    pub const DEFAULT: Self = Self {
        max_skip: 2_000,
        max_skipped_keys: 2_000,
        max_old_chains: 4,
        max_previous_sessions: 5,
        max_plaintext_len: 64 * 1024,
        max_replay_records: 50_000,
    };

    /// The largest padded body an envelope may carry under these limits.
    pub fn max_padded_len(&self) -> usize {
        crate::wire::padded_len(self.max_plaintext_len)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
