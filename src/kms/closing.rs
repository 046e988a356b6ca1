//! Shutdown: logging out of every hosted region's token.

use super::Kms;

impl Kms {
    /// Logs out of every hosted region's token and finalises its module
    /// (each module once), at shutdown, after the last request; later
    /// calls on the tokens fail.
    pub fn close_tokens(&self) {
        for hsm in self.regions.all().values() {
            hsm.close();
        }
    }
}
