//! Bracket arithmetic of the Hyperband pruner: exact bracket counts, allocation budgets, CRC-32,
//! bracket assignment and rung promotion steps.

use ferrotune_core::hyperband::brackets::{bracket_of_trial, INT_LIMIT};
use ferrotune_core::hyperband::{
    allocation_budgets, bracket_of, crc32, n_brackets, promotion_step,
};
use ferrotune_core::CoreError;

/// Bit-by-bit CRC-32 (no table), as an independent reference.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = 0u32.wrapping_sub(crc & 1);
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[test]
fn crc32_check_values() {
    // The standard check value of CRC-32/ISO-HDLC, and the empty input.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    let mut state = 0x1234_5678u32;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        assert_eq!(crc32(&bytes), crc32_bitwise(&bytes), "length {len}");
    }
}

/// Largest s with min * eta^s <= max, by brute force in u128.
fn brute_n_brackets(min: u64, max: u64, eta: u64) -> u32 {
    (0..200u32)
        .take_while(|&s| {
            u128::from(eta)
                .checked_pow(s)
                .and_then(|p| p.checked_mul(u128::from(min)))
                .is_some_and(|v| v <= u128::from(max))
        })
        .count() as u32
}

#[test]
fn bracket_count_is_exact() {
    assert_eq!(n_brackets(1, 81, 3), Ok(5));
    assert_eq!(n_brackets(1, 80, 3), Ok(4));
    // Optuna's floating-point log gives 5 and 3 here; the exact counts are 6 and 4.
    assert_eq!(n_brackets(1, 243, 3), Ok(6));
    assert_eq!(n_brackets(1, 1000, 10), Ok(4));
    assert_eq!(n_brackets(3, 81, 3), Ok(4));
    assert_eq!(n_brackets(7, 7, 2), Ok(1));
    assert_eq!(n_brackets(1, INT_LIMIT, 2), Ok(63));
    for min in 1..20u64 {
        for max in min..400 {
            for eta in 2..7u64 {
                assert_eq!(
                    n_brackets(min, max, eta),
                    Ok(brute_n_brackets(min, max, eta)),
                    "({min}, {max}, {eta})"
                );
            }
        }
    }
}

#[test]
fn bracket_count_rejects_bad_input() {
    for (min, max, eta) in [
        (0, 10, 3),
        (5, 4, 3),
        (1, 10, 1),
        (1, 10, 0),
        (1, INT_LIMIT + 1, 3),
    ] {
        assert!(
            matches!(
                n_brackets(min, max, eta),
                Err(CoreError::InvalidArgument(_))
            ),
            "({min}, {max}, {eta})"
        );
    }
}

#[test]
fn allocation_budgets_follow_optuna_formula() {
    // ceil(n * eta^s / (s + 1)) with s = n - 1 - b.
    assert_eq!(allocation_budgets(4, 3), Ok(vec![27, 12, 6, 4]));
    assert_eq!(allocation_budgets(5, 3), Ok(vec![81, 34, 15, 8, 5]));
    assert_eq!(allocation_budgets(1, 3), Ok(vec![1]));
    for n in 1..12u32 {
        for eta in 2..6u64 {
            let got = allocation_budgets(n, eta).unwrap_or_default();
            for (b, &budget) in got.iter().enumerate() {
                let s = n - 1 - b as u32;
                let weight = u128::from(n) * u128::from(eta).pow(s);
                let k = u128::from(s) + 1;
                // budget is the least integer with budget * (s + 1) >= weight.
                assert!(budget * k >= weight && (budget - 1) * k < weight);
            }
        }
    }
    // The largest accepted configuration does not overflow.
    let max = n_brackets(1, INT_LIMIT, 2).unwrap_or(0);
    assert!(allocation_budgets(max, 2).is_ok());
    assert!(allocation_budgets(0, 3).is_err());
    assert!(allocation_budgets(3, 1).is_err());
    assert!(allocation_budgets(500, INT_LIMIT).is_err());
}

#[test]
fn bracket_walk_uses_cumulative_budgets() {
    let budgets = [27u128, 12, 6, 4];
    let expect = |h: u32| match h % 49 {
        0..=26 => 0,
        27..=38 => 1,
        39..=44 => 2,
        _ => 3,
    };
    for h in (0..1000u32).chain([u32::MAX, u32::MAX - 1]) {
        assert_eq!(bracket_of(h, &budgets), Ok(expect(h)), "hash {h}");
    }
    assert!(bracket_of(5, &[]).is_err());
    assert!(bracket_of(5, &[0, 0]).is_err());
    // A trial's key is "{study_name}_{number}".
    let key_hash = crc32(b"my-study_17");
    assert_eq!(
        bracket_of_trial("my-study", 17, &budgets),
        Ok(expect(key_hash))
    );
}

#[test]
fn promotion_steps() {
    assert_eq!(promotion_step(1, 3, 0), Some(1));
    assert_eq!(promotion_step(2, 3, 4), Some(162));
    assert_eq!(promotion_step(1, 2, 127), Some(1u128 << 127));
    assert_eq!(promotion_step(1, 2, 128), None);
    assert_eq!(promotion_step(5, 2, u64::MAX), None);
}
