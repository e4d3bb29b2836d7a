import Interaction

/// What a room's pipeline tells `/metrics` (see `InteractionMetrics`).
extension RoomHost {
    /// Adds a committed batch's votes and quiz answers to the counters: one add each per batch, not per vote.
    static func count(_ batch: [Event], into metrics: InteractionMetrics) {
        var votes = 0
        var answers = 0
        for event in batch {
            switch event {
            case let .votes(pending): votes += pending.count
            case let .update(update, _, _):
                for record in update.records {
                    if case .quizAnswer = record { answers += 1 } else if case .vote = record { votes += 1 }
                }
            case .register, .unregister, .expel, .goAway: break
            }
        }
        metrics.accepted(votes: votes, answers: answers)
    }
}
