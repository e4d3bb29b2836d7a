import Foundation

extension BroadcastReport {
    /// The report as one flat CSV table (RFC 4180, CRLF line ends) with the header `section,item,metric,value`:
    /// one row per number, so any spreadsheet or `csv` reader can filter it. docs/analytics.md lists the rows.
    ///
    /// Text that came from users or hosts (poll questions, names) is quoted where needed, and a cell starting with
    /// `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` so a spreadsheet never runs it as a formula.
    public var csv: String {
        var rows: [[String]] = [["section", "item", "metric", "value"]]
        func add(_ section: String, _ item: String, _ metric: String, _ value: String) {
            rows.append([section, item, metric, value])
        }
        add("summary", "", "channel", channel)
        add("summary", "", "broadcastID", broadcastID)
        add("summary", "", "startedAt", Self.iso(startedAt))
        add("summary", "", "endedAt", endedAt.map(Self.iso) ?? "")
        add("summary", "", "live", String(live))
        add("summary", "", "durationSeconds", Self.number(durationSeconds))
        add("summary", "", "peakViewers", String(viewers.peak))
        add("summary", "", "averageViewers", Self.number(viewers.average))
        for point in viewers.series { add("viewers", Self.iso(point.t), "count", String(point.count)) }
        for poll in polls {
            add("poll", poll.pollID, "question", poll.question)
            add("poll", poll.pollID, "launchedAt", Self.iso(poll.launchedAt))
            add("poll", poll.pollID, "viewersAtLaunch", String(poll.viewersAtLaunch))
            add("poll", poll.pollID, "voters", String(poll.voters))
            add("poll", poll.pollID, "participation", poll.participation.map(Self.number) ?? "")
            for (index, count) in poll.counts.enumerated() { add("poll", poll.pollID, "option\(index)", String(count)) }
        }
        for quiz in quizzes {
            add("quiz", quiz.quizID, "title", quiz.title)
            add("quiz", quiz.quizID, "players", String(quiz.players))
            add("quiz", quiz.quizID, "participation", quiz.participation.map(Self.number) ?? "")
            Self.add(quiz.answerTime, section: "quiz", item: quiz.quizID, to: add)
            for question in quiz.questions {
                let item = "\(quiz.quizID)#\(question.index)"
                add("quizQuestion", item, "prompt", question.prompt)
                add("quizQuestion", item, "viewersAtShow", String(question.viewersAtShow))
                add("quizQuestion", item, "answers", String(question.answers))
                add("quizQuestion", item, "correct", String(question.correct))
                add("quizQuestion", item, "participation", question.participation.map(Self.number) ?? "")
                Self.add(question.answerTime, section: "quizQuestion", item: item, to: add)
            }
        }
        add("chat", "", "messages", String(chat.total))
        add("chat", "", "perMinute", Self.number(chat.perMinute))
        for (index, count) in chat.series.enumerated() { add("chat", String(index * chat.bucketSeconds), "messages", String(count)) }
        add("reactions", "", "taps", String(reactions.total))
        add("reactions", "", "perMinute", Self.number(reactions.perMinute))
        for (index, count) in reactions.series.enumerated() {
            add("reactions", String(index * reactions.bucketSeconds), "taps", String(count))
        }
        for (emoji, count) in reactions.byEmoji.sorted(by: { $0.key < $1.key }) { add("reactions", emoji, "taps", String(count)) }
        add("questions", "", "asked", String(questions.asked))
        add("questions", "", "answered", String(questions.answered))
        for offer in offers {
            add("offer", offer.offerID, "title", offer.title)
            add("offer", offer.offerID, "shows", String(offer.shows))
            add("offer", offer.offerID, "impressions", String(offer.impressions))
            add("offer", offer.offerID, "clicks", String(offer.clicks))
            add("offer", offer.offerID, "uniqueClicks", String(offer.uniqueClicks))
            add("offer", offer.offerID, "clickThrough", offer.clickThrough.map(Self.number) ?? "")
        }
        for sponsored in sponsors {
            add("sponsor", sponsored.id, "kind", sponsored.kind.rawValue)
            add("sponsor", sponsored.id, "sponsor", sponsored.sponsor)
            add("sponsor", sponsored.id, "impressions", String(sponsored.impressions))
            add("sponsor", sponsored.id, "clicks", String(sponsored.clicks))
            add("sponsor", sponsored.id, "uniqueClicks", String(sponsored.uniqueClicks))
            add("sponsor", sponsored.id, "clickThrough", sponsored.clickThrough.map(Self.number) ?? "")
        }
        add("gifts", "", "events", String(gifts.events))
        add("gifts", "", "items", String(gifts.items))
        add("gifts", "", "value", String(gifts.value))
        for item in gifts.byItem {
            add("gift", item.giftID, "items", String(item.items))
            add("gift", item.giftID, "value", String(item.value))
        }
        for supporter in gifts.topSupporters {
            add("supporter", supporter.sub, "name", supporter.name)
            add("supporter", supporter.sub, "value", String(supporter.value))
        }
        return rows.map { $0.map(Self.cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    private static func add(_ distribution: Distribution, section: String, item: String,
                            to add: (String, String, String, String) -> Void) {
        let optional: (Int64?) -> String = { $0.map(String.init) ?? "" }
        add(section, item, "answerTimeCount", String(distribution.count))
        add(section, item, "answerTimeP50Ms", optional(distribution.p50Ms))
        add(section, item, "answerTimeP90Ms", optional(distribution.p90Ms))
        add(section, item, "answerTimeP99Ms", optional(distribution.p99Ms))
        for (index, count) in distribution.histogram.enumerated() {
            add(section, item, "answerTimeFrom\(Int64(index) * distribution.bucketMs)Ms", String(count))
        }
    }

    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.4f", value)
    }

    /// One RFC 4180 field, defused for spreadsheets.
    static func cell(_ raw: String) -> String {
        var text = raw
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
