//! The Microsoft emulator. Its own issue builds it; until then this member
//! only reserves its place in the workspace. It must never depend on the
//! Calbridge crates: it plays Microsoft.
