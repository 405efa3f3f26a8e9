//! Rewards from feedback: the seed's `calculate_reward_from_feedback`, exactly, and the
//! validation every reward input goes through.

use crate::error::{Error, Result};

/// What the default reward formula reads.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FeedbackSignals {
    /// The span's quality score, 0–100.
    pub quality_score: f64,
    /// 1–5 stars.
    pub rating: Option<f64>,
    /// The user said they were satisfied.
    pub satisfied: Option<bool>,
    /// The user used the result.
    pub used_result: Option<bool>,
}

/// The seed's formula:
///
/// ```text
/// base = quality/100·2 − 1
/// with a rating:      base = 0.4·base + 0.6·(rating/5·2 − 1)
/// satisfied:          base = min(base + 0.2, 1)
/// used_result:        base = min(base + 0.1, 1)
/// result = clamp(base, −1, 1)
/// ```
///
/// ```
/// use lightprompt::reward::{calculate_reward, FeedbackSignals};
/// let r = calculate_reward(&FeedbackSignals { quality_score: 85.0, rating: Some(4.0), ..Default::default() });
/// assert!((r - (0.4 * 0.7 + 0.6 * 0.6)).abs() < 1e-12);
/// ```
pub fn calculate_reward(signals: &FeedbackSignals) -> f64 {
    let mut base = (signals.quality_score / 100.0) * 2.0 - 1.0;
    if let Some(rating) = signals.rating {
        let user = (rating / 5.0) * 2.0 - 1.0;
        base = base * 0.4 + user * 0.6;
    }
    if signals.satisfied == Some(true) {
        base = (base + 0.2).min(1.0);
    }
    if signals.used_result == Some(true) {
        base = (base + 0.1).min(1.0);
    }
    base.clamp(-1.0, 1.0)
}

/// Checks an explicit reward: finite and within [-1, 1].
pub fn validate_reward(value: f64, field: &str) -> Result<f64> {
    if !value.is_finite() {
        return Err(Error::invalid(
            field,
            format!("must be a finite number, got {value}"),
        ));
    }
    if !(-1.0..=1.0).contains(&value) {
        return Err(Error::invalid(
            field,
            format!("must be between -1 and 1, got {value}"),
        ));
    }
    Ok(value)
}

/// Checks a star rating: finite and within [1, 5].
pub fn validate_rating(value: f64, field: &str) -> Result<f64> {
    if !value.is_finite() || !(1.0..=5.0).contains(&value) {
        return Err(Error::invalid(
            field,
            format!("must be a number from 1 to 5, got {value}"),
        ));
    }
    Ok(value)
}

/// Checks a quality score: finite and within [0, 100].
pub fn validate_quality(value: f64, field: &str) -> Result<f64> {
    if !value.is_finite() || !(0.0..=100.0).contains(&value) {
        return Err(Error::invalid(
            field,
            format!("must be a number from 0 to 100, got {value}"),
        ));
    }
    Ok(value)
}

/// Turns what a custom reward function returned into a reward: a non-finite value is an
/// error; anything else is clamped to [-1, 1] like the seed's formula.
pub fn accept_custom(value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value.clamp(-1.0, 1.0))
    } else {
        Err(Error::new(
            crate::ErrorCode::Callback,
            format!("the reward function returned {value}; it must return a finite number"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(q: f64, rating: Option<f64>, sat: Option<bool>, used: Option<bool>) -> f64 {
        calculate_reward(&FeedbackSignals {
            quality_score: q,
            rating,
            satisfied: sat,
            used_result: used,
        })
    }

    #[test]
    fn seed_example_feedback() {
        // The seed's example 1: rating 5, satisfied, used the result.
        // quality 85 → base 0.7; with rating 5: 0.4·0.7 + 0.6·1 = 0.88; +0.2 → 1 (capped); +0.1 → 1.
        assert_eq!(r(85.0, Some(5.0), Some(true), Some(true)), 1.0);
        // Without the adjustments the weighted mean shows.
        assert!((r(85.0, Some(5.0), None, None) - 0.88).abs() < 1e-12);
    }

    #[test]
    fn formula_by_parts() {
        assert_eq!(r(50.0, None, None, None), 0.0);
        assert_eq!(r(0.0, None, None, None), -1.0);
        assert_eq!(r(100.0, None, None, None), 1.0);
        assert!((r(50.0, Some(1.0), None, None) - 0.6 * -0.6).abs() < 1e-12);
        assert!((r(50.0, None, Some(true), None) - 0.2).abs() < 1e-12);
        assert!((r(50.0, None, Some(true), Some(true)) - 0.3).abs() < 1e-12);
        assert!((r(50.0, None, Some(false), Some(false))).abs() < 1e-12);
        assert_eq!(r(100.0, Some(5.0), Some(true), Some(true)), 1.0);
        assert_eq!(r(0.0, Some(1.0), None, None), -0.4 + 0.6 * -0.6);
    }

    #[test]
    fn validation() {
        assert!(validate_reward(0.9, "reward").is_ok());
        for bad in [f64::NAN, f64::INFINITY, 1.01, -1.5] {
            let e = validate_reward(bad, "reward").unwrap_err();
            assert_eq!(e.field.as_deref(), Some("reward"));
        }
        assert!(validate_rating(0.0, "metadata.rating").is_err());
        assert!(validate_rating(4.5, "metadata.rating").is_ok());
        assert_eq!(accept_custom(3.0).unwrap(), 1.0);
        assert_eq!(
            accept_custom(f64::NAN).unwrap_err().code,
            crate::ErrorCode::Callback
        );
    }
}
