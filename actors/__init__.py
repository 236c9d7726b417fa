"""Actors: one RoomActor per active room, one UserActor per connected user, each with a bounded mailbox."""
