"""The ways a user asks: IPython magics, the ipywidgets panel, the comm the sidebar speaks."""
