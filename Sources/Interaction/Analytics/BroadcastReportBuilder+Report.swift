import Foundation
import OrderedCollections

extension BroadcastReportBuilder {
    /// Rates are counted per minute, in buckets widened (in whole minutes) so a series never has more than this many.
    public static let maximumRateBuckets = 1_440
    /// Supporters listed in `gifts.topSupporters`.
    public static let topSupporterCount = 10

    /// The report, or nil when the broadcast's start was never seen. `live`: the broadcast is in progress, so its
    /// numbers run to `now` and `endedAt` is nil.
    public func report(channel: String, live: Bool, now: Timestamp) -> BroadcastReport? {
        guard let startedAt else { return nil }
        let isLive = live && endedAt == nil
        let end = max(isLive ? now : (endedAt ?? lastSignAt ?? startedAt), startedAt)
        let duration = startedAt.duration(to: end)
        let seconds = Double(duration.wholeMilliseconds) / 1000
        let bucket = Self.bucketSeconds(for: seconds)
        return BroadcastReport(
            channel: channel, broadcastID: broadcastID, startedAt: startedAt.date,
            endedAt: isLive ? nil : end.date, live: isLive, durationSeconds: seconds,
            viewers: viewers(from: startedAt, to: end),
            polls: pollStats(), quizzes: quizStats(), chat: rate(chatTimes.map { ($0, 1) }, from: startedAt, seconds: seconds, bucket: bucket),
            reactions: reactions(from: startedAt, seconds: seconds, bucket: bucket),
            questions: .init(asked: asked, answered: answered.count), offers: offerStats(),
            sponsors: sponsorStats(), gifts: giftStats()
        )
    }

    static func bucketSeconds(for seconds: Double) -> Int {
        let minutes = Int((seconds / 60).rounded(.up))
        let widen = (minutes + maximumRateBuckets - 1) / maximumRateBuckets
        return max(widen, 1) * 60
    }

    static func ratio(_ part: Int, _ whole: Int) -> Double? {
        whole > 0 ? Double(part) / Double(whole) : nil
    }

    private func viewers(from start: Timestamp, to end: Timestamp) -> BroadcastReport.Viewers {
        var area = 0.0
        for (index, sample) in samples.enumerated() {
            let from = max(sample.at, start)
            let until = min(index + 1 < samples.count ? samples[index + 1].at : end, end)
            if until > from { area += Double(sample.count) * Double(from.duration(to: until).wholeMilliseconds) }
        }
        let total = Double(start.duration(to: end).wholeMilliseconds)
        let points = samples.map { sample in
            BroadcastReport.Point(t: sample.at.date, offsetSeconds: Double(start.duration(to: sample.at).wholeMilliseconds) / 1000,
                                  count: sample.count)
        }
        return .init(series: points, peak: samples.map(\.count).max() ?? 0,
                     average: total > 0 ? area / total : Double(samples.last?.count ?? 0))
    }

    private func pollStats() -> [BroadcastReport.PollStats] {
        polls.map { pollID, entry in
            let options = entry.definition?.options ?? []
            var counts = Array(repeating: 0, count: options.count)
            for choices in entry.ballots.values {
                choices.forEachIndex { index in if counts.indices.contains(index) { counts[index] += 1 } }
            }
            return .init(pollID: pollID, question: entry.definition?.question ?? "", options: options,
                         launchedAt: entry.launchedAt.date, closedAt: entry.closedAt?.date,
                         viewersAtLaunch: entry.viewersAtLaunch, voters: entry.ballots.count,
                         participation: Self.ratio(entry.ballots.count, entry.viewersAtLaunch), counts: counts)
        }
    }

    private func quizStats() -> [BroadcastReport.QuizStats] {
        quizzes.map { quizID, entry in
            var players: Set<String> = []
            var allTimes: [Int64] = []
            let questions = entry.questions.map { index, question in
                players.formUnion(question.answerers)
                allTimes += question.times
                let prompt = entry.definition.flatMap { $0.questions.indices.contains(index) ? $0.questions[index].prompt : nil }
                return BroadcastReport.QuizQuestionStats(
                    index: index, prompt: prompt ?? "", shownAt: question.shownAt.date, viewersAtShow: question.viewersAtShow,
                    answers: question.times.count, correct: question.correct,
                    participation: Self.ratio(question.times.count, question.viewersAtShow), answerTime: Distribution(question.times)
                )
            }
            let firstAudience = entry.questions.values.first?.viewersAtShow ?? 0
            return .init(quizID: quizID, title: entry.definition?.title ?? "", players: players.count,
                         participation: Self.ratio(players.count, firstAudience), questions: questions,
                         answerTime: Distribution(allTimes))
        }
    }

    private func buckets(_ events: [(at: Timestamp, count: Int)], from start: Timestamp, seconds: Double, bucket: Int) -> [Int] {
        var series = Array(repeating: 0, count: max(Int((seconds / Double(bucket)).rounded(.up)), 1))
        for event in events {
            let offset = start.duration(to: event.at).wholeMilliseconds / 1000
            let index = min(max(Int(offset) / bucket, 0), series.count - 1)
            series[index] &+= event.count
        }
        return series
    }

    private func perMinute(_ total: Int, seconds: Double) -> Double {
        seconds > 0 ? Double(total) / (seconds / 60) : 0
    }

    private func rate(_ events: [(Timestamp, Int)], from start: Timestamp, seconds: Double, bucket: Int) -> BroadcastReport.Rate {
        let total = events.reduce(0) { $0 &+ $1.1 }
        return .init(total: total, perMinute: perMinute(total, seconds: seconds), bucketSeconds: bucket,
                     series: buckets(events.map { ($0.0, $0.1) }, from: start, seconds: seconds, bucket: bucket))
    }

    private func reactions(from start: Timestamp, seconds: Double, bucket: Int) -> BroadcastReport.Reactions {
        let counted = rate(reactionCounts.map { ($0.at, $0.taps) }, from: start, seconds: seconds, bucket: bucket)
        return .init(total: counted.total, perMinute: counted.perMinute, bucketSeconds: bucket, series: counted.series,
                     byEmoji: reactionsByEmoji)
    }

    private func offerStats() -> [BroadcastReport.OfferStats] {
        offers.map { offerID, entry in
            .init(offerID: offerID, title: entry.title, firstShownAt: entry.firstShownAt.date, shows: entry.shows,
                  impressions: entry.impressions, clicks: entry.clicks, uniqueClicks: entry.clickers.count,
                  clickThrough: Self.ratio(entry.clickers.count, entry.impressions), clickLog: entry.clickLog)
        }
    }

    private func sponsorStats() -> [BroadcastReport.SponsorStats] {
        func stats(_ interaction: SponsoredInteraction, _ title: String, _ sponsor: Sponsor,
                   impressions: Int) -> BroadcastReport.SponsorStats {
            let entry = sponsorClicks[interaction] ?? ClickEntry()
            return .init(kind: interaction.kind, id: interaction.id, title: title, sponsor: sponsor.name, link: sponsor.link,
                         impressions: impressions, clicks: entry.clicks, uniqueClicks: entry.clickers.count,
                         clickThrough: Self.ratio(entry.clickers.count, impressions), clickLog: entry.clickLog)
        }
        let sponsoredPolls = polls.compactMap { pollID, entry in
            entry.definition.flatMap { definition in
                definition.sponsor.map { stats(.poll(pollID), definition.question, $0, impressions: entry.viewersAtLaunch) }
            }
        }
        let sponsoredQuizzes = quizzes.compactMap { quizID, entry in
            entry.definition.flatMap { definition in
                definition.sponsor.map {
                    stats(.quiz(quizID), definition.title, $0, impressions: entry.questions.values.map(\.viewersAtShow).max() ?? 0)
                }
            }
        }
        return sponsoredPolls + sponsoredQuizzes
    }

    private func giftStats() -> BroadcastReport.Gifts {
        var items: [String: BroadcastReport.GiftItemStats] = [:]
        var supporters: [String: BroadcastReport.SupporterStats] = [:]
        var order: [String] = []
        for event in gifts {
            if items[event.giftID] == nil {
                order.append(event.giftID)
                items[event.giftID] = .init(giftID: event.giftID, name: event.giftName, events: 0, items: 0, value: 0)
            }
            items[event.giftID]?.events += 1
            items[event.giftID]?.items &+= event.count
            items[event.giftID]?.value &+= event.total
            supporters[event.sub, default: .init(sub: event.sub, name: event.name, items: 0, value: 0)].items &+= event.count
            supporters[event.sub]?.value &+= event.total
            supporters[event.sub]?.name = event.name
        }
        let top = supporters.values.sorted { ($0.value, $1.sub) > ($1.value, $0.sub) }.prefix(Self.topSupporterCount)
        return .init(events: gifts.count, items: gifts.reduce(0) { $0 &+ $1.count }, value: gifts.reduce(0) { $0 &+ $1.total },
                     byItem: order.compactMap { items[$0] }, topSupporters: Array(top))
    }
}
