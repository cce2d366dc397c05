"""Worker plumbing (arena, codec, channel, lifecycle). Private: user code never imports this."""
