"""Web Push notifications: VAPID keys, the outbox scan, the sender and its pluggable transport."""
