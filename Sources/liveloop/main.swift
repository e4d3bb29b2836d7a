print("liveloop")
