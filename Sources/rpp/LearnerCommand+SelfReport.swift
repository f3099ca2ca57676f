// The learner's record of itself (pid, start time, arguments, log) in its run directory, so that `rpp cluster`
// finds a learner started outside it, such as one resumed by hand (see Cluster/LearnerSelfReport.swift).
import Cluster
import Foundation

extension LearnerCommand {
    /// Writes `RUN/learner-process.json`; a failure is reported and the run goes on (only `rpp cluster` reads it).
    func writeSelfReport(runDirectory: String) {
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            try LearnerSelfReport.current().write(runDirectory: runDirectory)
        } catch {
            print(
                "learner: cannot write \(LearnerSelfReport.file(in: runDirectory)) (\(error.localizedDescription)); "
                    + "`rpp cluster` will not find this learner if it was started by hand")
        }
    }
}
