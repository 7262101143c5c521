//! Lossless desktop screen codec (encoder in the client, decoder in the console).
