"""Python test plugins served by the reference's Unix runtime in tests/interop/unix_client_interop_test.ts."""
