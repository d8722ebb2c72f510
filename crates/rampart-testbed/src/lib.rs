//! rampart-testbed
