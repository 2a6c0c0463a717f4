// Package plaintext renders Jira content for messengers that show plain
// text only (Viber, WhatsApp): markup is dropped, link texts kept, and long
// texts split within a character limit and a JSON byte budget.
package plaintext
