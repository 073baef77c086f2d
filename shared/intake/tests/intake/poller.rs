// poller tests follow
