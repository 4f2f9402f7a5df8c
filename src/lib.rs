//! redline: a Jepsen-style consistency testing harness for Redis master-replica replication.
