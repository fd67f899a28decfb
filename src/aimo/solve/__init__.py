"""Solving one problem: prompts, the sample loop, voting and stopping rules, the budget manager."""
