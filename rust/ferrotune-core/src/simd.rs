//! Runtime dispatch of plain loops to a copy compiled for AVX2.
//!
//! The crate is built for baseline x86-64 (SSE2), where loops over `f64` vectorise two lanes
//! wide at best and some conversions and comparisons not at all. [`avx2_dispatch!`] defines a
//! function whose body is compiled twice, once as is and once with AVX2 enabled, and picks the
//! AVX2 copy at run time when the CPU has it. The body is ordinary Rust: both copies perform
//! the same IEEE operations (the compiler never fuses a multiply and an add on its own), so
//! the results are identical; only the instruction selection differs.

/// Whether the AVX2 code paths are taken: the CPU supports AVX2, and the environment variable
/// `FERROTUNE_DISABLE_AVX2` was not set when this was first asked (it forces the portable
/// paths, to test them on any machine). Callers of AVX2-only functions may rely on `true`
/// meaning that the CPU supports AVX2.
#[inline]
pub(crate) fn use_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::atomic::{AtomicU8, Ordering};
        // 0: not asked yet, 1: no, 2: yes.
        static STATE: AtomicU8 = AtomicU8::new(0);
        match STATE.load(Ordering::Relaxed) {
            2 => true,
            1 => false,
            _ => {
                let yes = std::arch::is_x86_feature_detected!("avx2")
                    && std::env::var_os("FERROTUNE_DISABLE_AVX2").is_none();
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `fn name(args) -> ret { body }` with an AVX2-compiled copy of the body that is used
/// when [`use_avx2`] says so. Arguments must be plain identifiers.
macro_rules! avx2_dispatch {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    portable($($arg),*)
                }
                if $crate::simd::use_avx2() {
                    // SAFETY: the CPU supports AVX2 (`use_avx2` checked it), the only
                    // requirement of `avx2`, which runs the portable body compiled with AVX2
                    // enabled.
                    return unsafe { avx2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;

#[cfg(test)]
mod tests {
    avx2_dispatch! {
        /// A test function.
        fn scaled_sum(x: &[f64], k: f64) -> f64 {
            x.iter().map(|v| v * k).sum()
        }
    }

    avx2_dispatch! {
        fn double_all(x: &mut [f64]) {
            for v in x.iter_mut() {
                *v *= 2.0;
            }
        }
    }

    #[test]
    fn dispatch_runs_the_body() {
        assert_eq!(scaled_sum(&[1.0, 2.0, 3.0], 2.0), 12.0);
        let mut v = [1.0, -2.0];
        double_all(&mut v);
        assert_eq!(v, [2.0, -4.0]);
    }
}
