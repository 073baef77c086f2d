//! The Intacct connector contract: cases generic over the Intacct port, run against the real
//! client talking to the Intacct sandbox over loopback.
