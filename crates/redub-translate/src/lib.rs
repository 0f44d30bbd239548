//! redub-translate
