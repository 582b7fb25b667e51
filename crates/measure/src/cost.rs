//! Cost per million samples: the device's unit cost amortized over its service life at the
//! measured throughput, plus the energy of a million samples at the wall (times PUE) at an
//! electricity price. An optimistic, full-utilization figure for comparing designs, not a fleet
//! TCO (`serve`/`plan` answer that). The same definition as `compare`/`evaluate`
//! (docs/evaluate.md), with the same default assumptions.

use serde::Serialize;

/// Service life over which a device's unit cost is amortized (a common accelerator
/// depreciation schedule; hyperscalers use 4 to 6 years for servers).
pub const LIFETIME_YEARS: f64 = 4.0;
/// Electricity price, USD per kWh (US industrial average, EIA 2023: about 0.08).
pub const USD_PER_KWH: f64 = 0.08;
/// Power usage effectiveness: facility energy over IT energy (efficient hyperscale data
/// centres report 1.1 to 1.2; industry surveys average about 1.5).
pub const PUE: f64 = 1.3;

const SECONDS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0;

/// The cost assumptions, written into every document that shows costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostAssumptions {
    pub lifetime_years: f64,
    pub usd_per_kwh: f64,
    pub pue: f64,
    /// Fraction of the lifetime the device serves at the measured throughput.
    pub utilization: f64,
}

impl Default for CostAssumptions {
    fn default() -> Self {
        CostAssumptions {
            lifetime_years: LIFETIME_YEARS,
            usd_per_kwh: USD_PER_KWH,
            pue: PUE,
            utilization: 1.0,
        }
    }
}

impl CostAssumptions {
    /// Energy cost of a million samples, USD.
    pub fn energy_usd_per_million(&self, joules_per_sample: f64) -> f64 {
        1e6 * joules_per_sample * self.pue / 3.6e6 * self.usd_per_kwh
    }

    /// Amortized unit cost of a million samples, USD.
    pub fn capex_usd_per_million(&self, unit_cost_usd: f64, samples_per_s: f64) -> f64 {
        let lifetime_samples =
            samples_per_s * self.lifetime_years * SECONDS_PER_YEAR * self.utilization;
        1e6 * unit_cost_usd / lifetime_samples
    }
}

/// Unit cost amortized plus energy, USD per million samples.
pub fn usd_per_million_samples(
    a: &CostAssumptions,
    unit_cost_usd: f64,
    samples_per_s: f64,
    joules_per_sample: f64,
) -> f64 {
    a.capex_usd_per_million(unit_cost_usd, samples_per_s)
        + a.energy_usd_per_million(joules_per_sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_dollar_device_at_a_million_samples_per_second() {
        let a = CostAssumptions::default();
        // 4 years at 1e6/s = 1.26e14 samples; $1000 / 1.26e8 million samples.
        let capex = a.capex_usd_per_million(1000.0, 1e6);
        assert!((capex - 1000.0 / (4.0 * SECONDS_PER_YEAR)).abs() < 1e-12);
        // 1 J per sample: 1e6 J × 1.3 = 0.3611 kWh × $0.08.
        let e = a.energy_usd_per_million(1.0);
        assert!((e - 1.3e6 / 3.6e6 * 0.08).abs() < 1e-12);
        assert!((usd_per_million_samples(&a, 1000.0, 1e6, 1.0) - capex - e).abs() < 1e-12);
    }
}
