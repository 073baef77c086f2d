//! The Salesforce connector contract: cases generic over the Salesforce port, run against the
//! real client talking to the Salesforce sandbox over loopback.
