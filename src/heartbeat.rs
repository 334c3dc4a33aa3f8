//! Heartbeat decisions, from timestamps only (never from counting timer ticks), so a throttled
//! background tab whose timers fire late cannot cause a false timeout.

/// What to do when the heartbeat timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeartbeatAction {
    /// Send a ping now.
    Ping,
    /// Nothing to do yet; check again in this many ms.
    Wait(u32),
    /// No inbound message within the timeout after a ping: the link is dead.
    Dead {
        /// Milliseconds since the ping was sent.
        silent_ms: u32,
    },
}

/// Decides the heartbeat step at time `now` (ms, monotonic).
///
/// `ping_sent_at` is when the last unanswered ping went out (`None` when every ping has been
/// answered); `last_inbound` is when any message last arrived (every message proves the link).
/// A ping is answered by any inbound message after it. A timer that fires late (throttled tab)
/// only ever sees *more* inbound messages, never fewer, so lateness cannot fake a timeout.
pub(crate) fn heartbeat_action(
    now: f64,
    ping_sent_at: Option<f64>,
    last_inbound: f64,
    interval_ms: f64,
    timeout_ms: f64,
) -> HeartbeatAction {
    // Rounded up (`f64::ceil` is not in `core`); NaN is 0, like `as`.
    let ms = |v: f64| {
        let v = v.clamp(0.0, u32::MAX as f64);
        let whole = v as u32;
        if (whole as f64) < v {
            whole + 1
        } else {
            whole
        }
    };
    match ping_sent_at {
        Some(sent) if last_inbound < sent => {
            let silent = now - sent;
            if silent >= timeout_ms {
                HeartbeatAction::Dead {
                    silent_ms: ms(silent),
                }
            } else {
                HeartbeatAction::Wait(ms(timeout_ms - silent).max(1))
            }
        }
        _ => {
            // Answered (or never pinged): the next ping is due one interval after the last sign
            // of life, so a busy link needs no pings at all.
            let due = last_inbound.max(ping_sent_at.unwrap_or(f64::MIN)) + interval_ms;
            if now >= due {
                HeartbeatAction::Ping
            } else {
                HeartbeatAction::Wait(ms(due - now).max(1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_interval_after_the_last_message() {
        assert_eq!(
            heartbeat_action(1000.0, None, 0.0, 5000.0, 2000.0),
            HeartbeatAction::Wait(4000)
        );
        assert_eq!(
            heartbeat_action(5000.0, None, 0.0, 5000.0, 2000.0),
            HeartbeatAction::Ping
        );
        // A message at 4000 pushes the next ping to 9000.
        assert_eq!(
            heartbeat_action(5000.0, None, 4000.0, 5000.0, 2000.0),
            HeartbeatAction::Wait(4000)
        );
    }

    #[test]
    fn fractional_milliseconds_round_up() {
        assert_eq!(
            heartbeat_action(6000.0, Some(5000.0), 100.0, 5000.0, 1002.25),
            HeartbeatAction::Wait(3)
        );
        assert_eq!(
            heartbeat_action(7000.25, Some(5000.0), 100.0, 5000.0, 2000.0),
            HeartbeatAction::Dead { silent_ms: 2001 }
        );
        assert_eq!(
            heartbeat_action(f64::NAN, Some(5000.0), 100.0, 5000.0, 2000.0),
            HeartbeatAction::Wait(1)
        );
    }

    #[test]
    fn unanswered_ping_is_dead_only_after_the_timeout() {
        assert_eq!(
            heartbeat_action(6000.0, Some(5000.0), 100.0, 5000.0, 2000.0),
            HeartbeatAction::Wait(1000)
        );
        assert_eq!(
            heartbeat_action(7000.0, Some(5000.0), 100.0, 5000.0, 2000.0),
            HeartbeatAction::Dead { silent_ms: 2000 }
        );
    }

    #[test]
    fn any_message_after_the_ping_answers_it() {
        assert_eq!(
            heartbeat_action(7000.0, Some(5000.0), 5001.0, 5000.0, 2000.0),
            HeartbeatAction::Wait(3001)
        );
    }

    #[test]
    fn throttled_timers_firing_late_never_fake_a_timeout() {
        // Background tab: pings every 5 s, timeout 2 s, but the timer fires only once a minute.
        // The server answered each ping within 40 ms; the late timer sees the answer.
        let mut ping: Option<f64> = None;
        let mut last_inbound = 0.0;
        let mut now = 0.0;
        for _ in 0..20 {
            now += 60_000.0; // the throttled timer finally runs
            match heartbeat_action(now, ping, last_inbound, 5000.0, 2000.0) {
                HeartbeatAction::Dead { .. } => panic!("false timeout at {now}"),
                HeartbeatAction::Ping => {
                    ping = Some(now);
                    last_inbound = now + 40.0; // the pong arrives (network events are not throttled)
                }
                HeartbeatAction::Wait(_) => {}
            }
        }
    }
}
