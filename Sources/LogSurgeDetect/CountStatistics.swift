#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tail probabilities of counts: how unlikely an observation is under a baseline.
///
/// Both sum exact terms in log space from the observation outwards and stop once the terms no
/// longer matter, so they are accurate far into the tail (1e-30 and below) where the
/// detectors work, and cost a few dozen terms.
package enum CountStatistics {
    /// P(X ≥ k) for X ~ Poisson(mean).
    package static func poissonUpperTail(_ k: Int, mean: Double) -> Double {
        if k <= 0 { return 1 }
        if mean <= 0 { return 0 }
        if Double(k) <= mean { return 1 - poissonLowerTail(k - 1, mean: mean) }
        let logMean = log(mean)
        var term = Double(k) * logMean - mean - lgamma(Double(k) + 1)
        var sum = 0.0
        var i = k
        while true {
            let value = exp(term)
            sum += value
            if value < sum * 1e-12 || i > k + 100_000 { break }
            i += 1
            term += logMean - log(Double(i))
        }
        return min(1, sum)
    }

    /// P(X ≤ k) for X ~ Poisson(mean), k below the mean.
    private static func poissonLowerTail(_ k: Int, mean: Double) -> Double {
        if k < 0 { return 0 }
        let logMean = log(mean)
        var term = Double(k) * logMean - mean - lgamma(Double(k) + 1)
        var sum = 0.0
        var i = k
        while i >= 0 {
            let value = exp(term)
            sum += value
            if value < sum * 1e-12 { break }
            term -= logMean - log(Double(i))
            i -= 1
        }
        return min(1, sum)
    }

    /// P(X ≥ k) for X ~ Binomial(n, p).
    package static func binomialUpperTail(_ k: Int, trials n: Int, probability p: Double) -> Double {
        if k <= 0 { return 1 }
        if k > n { return 0 }
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        let logP = log(p), logQ = log1p(-p)
        func logTerm(_ i: Int) -> Double {
            lgamma(Double(n) + 1) - lgamma(Double(i) + 1) - lgamma(Double(n - i) + 1)
                + Double(i) * logP + Double(n - i) * logQ
        }
        if Double(k) <= Double(n) * p {
            // Below the mean the upper tail is large; sum the short lower side instead.
            var sum = 0.0
            var i = k - 1
            while i >= 0 {
                let value = exp(logTerm(i))
                sum += value
                if value < sum * 1e-12 { break }
                i -= 1
            }
            return max(0, 1 - sum)
        }
        var sum = 0.0
        for i in k...n {
            let value = exp(logTerm(i))
            sum += value
            if value < sum * 1e-12 { break }
        }
        return min(1, sum)
    }

    /// P(X ≥ k) for X negative binomial with mean `mean` and dispersion `dispersion` (ψ: the
    /// variance is mean + ψ·mean², a Poisson whose rate is itself gamma-distributed with
    /// squared coefficient of variation ψ). ψ = 0 is the Poisson.
    ///
    /// With r = 1/ψ and p = r/(r + mean), P(X ≥ k) = I₁₋ₚ(k, r), the regularized incomplete
    /// beta function, evaluated by its continued fraction: a few dozen terms whatever k, and
    /// accurate in relative terms far into the tail (1e-30), where the detectors work.
    package static func negativeBinomialUpperTail(_ k: Int, mean: Double, dispersion: Double) -> Double {
        if dispersion <= 1e-9 { return poissonUpperTail(k, mean: mean) }
        if k <= 0 { return 1 }
        if mean <= 0 { return 0 }
        let r = 1 / dispersion
        return regularizedIncompleteBeta(x: mean / (r + mean), a: Double(k), b: r)
    }

    /// P(X ≤ k) for the same X: I_p(r, k + 1).
    package static func negativeBinomialLowerTail(_ k: Int, mean: Double, dispersion: Double) -> Double {
        if k < 0 { return 0 }
        if mean <= 0 { return 1 }
        if dispersion <= 1e-9 { return 1 - poissonUpperTail(k + 1, mean: mean) }
        let r = 1 / dispersion
        return regularizedIncompleteBeta(x: r / (r + mean), a: r, b: Double(k) + 1)
    }

    /// I_x(a, b) for a, b > 0 and x in [0, 1] (Numerical Recipes' `betai`): the continued
    /// fraction where it converges fast, x below (a + 1)/(a + b + 2), else 1 − I₁₋ₓ(b, a).
    static func regularizedIncompleteBeta(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        if x < (a + 1) / (a + b + 2) {
            return min(1, max(0, exp(logFront) * betaContinuedFraction(x: x, a: a, b: b) / a))
        }
        return min(1, max(0, 1 - exp(logFront) * betaContinuedFraction(x: 1 - x, a: b, b: a) / b))
    }

    /// The continued fraction of I_x(a, b) by the modified Lentz method.
    private static func betaContinuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            // The even step.
            var term = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + term * d
            if abs(d) < tiny { d = tiny }
            c = 1 + term / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // The odd step.
            term = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + term * d
            if abs(d) < tiny { d = tiny }
            c = 1 + term / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-13 { break }
        }
        return h
    }
}
