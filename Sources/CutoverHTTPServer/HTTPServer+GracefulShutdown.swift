import Dispatch

extension HTTPServer {
    /// Stops accepting, lets every open connection finish the request it is handling (idle ones
    /// close at once), and returns when all are closed or `gracePeriod` has passed.
    public func shutdownGracefully(gracePeriod: Duration) async {
        shutdown()
        let deadline = ContinuousClock.now + gracePeriod
        // Shutdown happens once per process: a short poll is simpler than a waiter registry.
        while openConnectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
