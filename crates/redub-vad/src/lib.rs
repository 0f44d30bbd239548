//! redub-vad
