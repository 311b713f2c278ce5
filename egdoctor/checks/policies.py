"""placeholder until its checks land."""
