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
}
