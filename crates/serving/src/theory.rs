//! Closed-form queueing results the simulator is validated against (mean wait in queue, Wq).

/// M/D/1 (Pollaczek–Khinchine with zero service variance): Wq = ρD / (2(1 − ρ)).
pub fn md1_wait_s(lambda: f64, service_s: f64) -> f64 {
    let rho = lambda * service_s;
    rho * service_s / (2.0 * (1.0 - rho))
}

/// M/M/1: Wq = ρ / (μ − λ).
pub fn mm1_wait_s(lambda: f64, mean_service_s: f64) -> f64 {
    let mu = 1.0 / mean_service_s;
    (lambda / mu) / (mu - lambda)
}

/// Erlang C: the probability that an arrival waits in M/M/c.
pub fn erlang_c(c: u32, offered_erlangs: f64) -> f64 {
    let a = offered_erlangs;
    let rho = a / f64::from(c);
    // Sum a^k/k! for k < c, iteratively to avoid factorial overflow.
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho);
    last / (sum + last)
}

/// M/M/c: Wq = C(c, a) / (cμ − λ).
pub fn mmc_wait_s(lambda: f64, mean_service_s: f64, c: u32) -> f64 {
    let mu = 1.0 / mean_service_s;
    erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_reduces_to_mm1() {
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        assert!((mmc_wait_s(0.7, 1.0, 1) - mm1_wait_s(0.7, 1.0)).abs() < 1e-12);
        // Textbook value: c = 2, a = 1 → C = 1/3.
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }
}
