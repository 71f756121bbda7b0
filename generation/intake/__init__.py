"""Selfie intake: safe decoding, normalisation and face QA."""
