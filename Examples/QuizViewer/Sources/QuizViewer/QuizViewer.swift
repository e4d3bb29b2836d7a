import Foundation
import Interaction
import LiveloopClient

/// Joins a channel by display name, prints each poll and quiz question as it goes live, votes or answers, and prints
/// the results when the host reveals them. The smallest whole app on the Swift SDK (docs/sdk.md).
///
///     swift run QuizViewer [SERVER] [CHANNEL] [NAME] [--choice N] [--until-results]
@main
struct QuizViewer {
    struct Options {
        var server = "http://127.0.0.1:8080"
        var channel = "demo"
        var name = "Quiz Viewer"
        /// The option index to vote for and answer with.
        var choice = 0
        /// Leave after the first results.
        var untilResults = false
    }

    static func main() async {
        guard let options = parse(Array(CommandLine.arguments.dropFirst())) else {
            print("usage: QuizViewer [SERVER] [CHANNEL] [NAME] [--choice N] [--until-results]")
            exit(2)
        }
        do {
            try await run(options)
        } catch {
            print("error: \(error)")
            exit(1)
        }
    }

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var positional: [String] = []
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--choice":
                index += 1
                guard index < arguments.count, let choice = Int(arguments[index]), choice >= 0 else { return nil }
                options.choice = choice
            case "--until-results":
                options.untilResults = true
            case "-h", "--help":
                return nil
            default:
                positional.append(arguments[index])
            }
            index += 1
        }
        guard positional.count <= 3 else { return nil }
        if positional.count > 0 { options.server = positional[0] }
        if positional.count > 1 { options.channel = positional[1] }
        if positional.count > 2 { options.name = positional[2] }
        return options
    }

    static func run(_ options: Options) async throws {
        let page = try await InteractionClient.channelPage(server: options.server, channel: options.channel)
        guard page.join == .open else {
            print("\(options.channel) does not take joins by name (join: \(page.join.rawValue)); see docs/sdk.md for signed sign-in")
            return
        }
        let client = try await InteractionClient.join(server: options.server, channel: options.channel, name: options.name)
        let you = client.identity
        print("joined \(options.channel) as \(you?.name ?? "?") (\(you?.sub ?? "?")); waiting for polls…")

        // A poll already live when we joined is in the snapshot; later ones come on `polls`.
        for poll in client.hello?.snapshot?.polls ?? [] where poll.phase == .live {
            await vote(client, poll, options)
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await poll in client.polls {
                    switch poll.phase {
                    case .live: await vote(client, poll, options)
                    case .closed: print("poll closed: \(poll.question)")
                    default: break
                    }
                }
            }
            group.addTask {
                for await results in client.results {
                    print("results \(results.pollID): \(results.counts) (\(results.ballots) ballots)")
                    if options.untilResults { return }
                }
            }
            group.addTask {
                for await quiz in client.quizzes {
                    guard quiz.phase == .asking, let question = quiz.question else { continue }
                    print("quiz \(quiz.title) — \(question.prompt) \(question.options)")
                    do {
                        let response = try await client.answer(quiz: quiz.quizID, question: question.index, choices: [options.choice])
                        let time = response.map { " in \(Int(($0 / .milliseconds(1)).rounded())) ms" } ?? ""
                        print("  answered \(question.options[safe: options.choice] ?? "#\(options.choice)")\(time)")
                    } catch {
                        print("  answer refused: \(error)")
                    }
                }
            }
            // Ends with the first task to end: the results (with --until-results) or the connection for good.
            await group.next()
            group.cancelAll()
        }
        await client.close()
    }

    static func vote(_ client: InteractionClient, _ poll: PollView, _ options: Options) async {
        print("poll: \(poll.question) \(poll.options)")
        do {
            try await client.vote(poll: poll.pollID, choice: options.choice)
            print("  voted \(poll.options[safe: options.choice] ?? "#\(options.choice)")")
        } catch .refused(let error) {
            print("  vote refused: \(error.code.rawValue): \(error.message)")
        } catch {
            print("  vote failed: \(error)")
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
