"""kimi_lab.chat(): the ipywidgets chat panel and its Enter-to-send box."""
