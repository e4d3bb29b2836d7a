/// The quiz points formula (Kahoot-like).
///
/// For a correct answer with response time `t` (from when *that viewer* saw the question) and answer window `W`:
///
///     base(t) = maxPoints                                              if t ≤ fullPointsWithin
///             = maxPoints − (maxPoints − minPoints) · (t − f) / (W − f)  otherwise, with f = fullPointsWithin
///
/// rounded to the nearest integer, with `t` clamped to `[0, W]`: 1000 points under 0.5 s falling linearly to 500 at
/// the deadline. A wrong answer scores 0 and breaks the streak.
///
/// Streak bonus: `streak` counts consecutive correct answers including this one (a wrong answer or a skipped question
/// resets it); the bonus is `min((streak − 1) · streakStep, streakCap)`, so +0 for the first correct answer, +100 for
/// the second in a row, +200 for the third … up to +500.
public struct QuizScoring: Sendable, Hashable, Codable {
    public var maxPoints: Int
    public var minPoints: Int
    public var fullPointsWithinMilliseconds: Int
    public var streakStep: Int
    public var streakCap: Int

    public init(maxPoints: Int = 1000, minPoints: Int = 500, fullPointsWithinMilliseconds: Int = 500,
                streakStep: Int = 100, streakCap: Int = 500) {
        self.maxPoints = maxPoints
        self.minPoints = minPoints
        self.fullPointsWithinMilliseconds = fullPointsWithinMilliseconds
        self.streakStep = streakStep
        self.streakCap = streakCap
    }

    /// Points for the speed of a correct answer, before the streak bonus.
    public func basePoints(responseTime: Duration, window: Duration) -> Int {
        let windowMs = max(window.wholeMilliseconds, 0)
        let t = min(max(responseTime.wholeMilliseconds, 0), windowMs)
        let full = Int64(fullPointsWithinMilliseconds)
        guard t > full, windowMs > full else { return maxPoints }
        let fraction = Double(t - full) / Double(windowMs - full)
        return maxPoints - Int((Double(maxPoints - minPoints) * fraction).rounded())
    }

    /// The streak bonus for the `streak`-th correct answer in a row (1 for the first).
    public func streakBonus(streak: Int) -> Int {
        guard streak > 1 else { return 0 }
        let (bonus, overflow) = (streak - 1).multipliedReportingOverflow(by: streakStep)
        return overflow ? streakCap : min(bonus, streakCap)
    }

    /// Total points for one answer.
    public func points(correct: Bool, responseTime: Duration, window: Duration, streak: Int) -> Int {
        guard correct else { return 0 }
        return basePoints(responseTime: responseTime, window: window) + streakBonus(streak: streak)
    }
}
