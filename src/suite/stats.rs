//! Detection rates and their uncertainty.
//!
//! A test repeated n times detects its anomaly in k runs. k/n alone says little when n is 5:
//! the 95% Wilson score interval says which rates are compatible with what was seen. Wilson's
//! interval is used rather than the normal approximation because it stays inside [0, 1] and
//! is still honest at k = 0 or k = n (0 detections in 10 runs means a rate below ~28%, not 0).

use serde::Serialize;

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A proportion k/n with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub hits: u64,
    pub trials: u64,
    /// k/n (0 when there were no trials).
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    /// k of n with its interval; with no trials the interval is all of [0, 1].
    pub fn wilson(hits: u64, trials: u64) -> Rate {
        if trials == 0 {
            return Rate {
                hits,
                trials,
                rate: 0.0,
                low: 0.0,
                high: 1.0,
            };
        }
        let n = trials as f64;
        let p = hits.min(trials) as f64 / n;
        let z2 = Z95 * Z95;
        let denominator = 1.0 + z2 / n;
        let centre = (p + z2 / (2.0 * n)) / denominator;
        let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        Rate {
            hits,
            trials,
            rate: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        }
    }

    /// `3/5 60% [23–88%]`, or `-` with no trials.
    pub fn label(&self) -> String {
        if self.trials == 0 {
            return "-".into();
        }
        format!(
            "{}/{} {:.0}% [{:.0}–{:.0}%]",
            self.hits,
            self.trials,
            100.0 * self.rate,
            100.0 * self.low,
            100.0 * self.high
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn known_values() {
        // Reference values from the closed form (e.g. R's binom.wilson / statsmodels).
        let r = Rate::wilson(3, 5);
        assert!(close(r.low, 0.2307) && close(r.high, 0.8824), "{r:?}");
        let r = Rate::wilson(0, 10);
        assert!(close(r.low, 0.0) && close(r.high, 0.2775), "{r:?}");
        let r = Rate::wilson(10, 10);
        assert!(close(r.low, 0.7225) && close(r.high, 1.0), "{r:?}");
        let r = Rate::wilson(1, 1);
        assert!(close(r.low, 0.2065), "{r:?}");
    }

    #[test]
    fn no_trials_is_all_of_zero_to_one() {
        let r = Rate::wilson(0, 0);
        assert_eq!((r.low, r.high), (0.0, 1.0));
        assert_eq!(r.label(), "-");
        assert_eq!(Rate::wilson(3, 5).label(), "3/5 60% [23–88%]");
    }
}
